/*
 * ssid: the Social Selling Index daemon.
 *
 * Runs in the foreground (systemd style). Everything but the command line
 * lives in the libraries, so the tests drive the same code.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>

#include "ssi_json.h"
#include "ssid_config.h"
#include "ssid_daemon.h"
#include "ssid_log.h"

#define DEFAULT_CONFIG "/etc/ssid/ssid.conf"

static void usage(FILE *out)
{
	fprintf(out, "usage: ssid [--config FILE] [--check-config] [--rebuild]\n"
		     "       ssid --list-keys | --version | --help\n"
		     "\n"
		     "Consume activity events from Kafka, keep each sales rep's Social Selling\n"
		     "Index in Redis, and publish score changes to Kafka.\n"
		     "\n"
		     "  -c, --config FILE    configuration file (default " DEFAULT_CONFIG ")\n"
		     "  -n, --check-config   validate the configuration and the model, then exit\n"
		     "      --list-keys      print every key of the configuration file, one per\n"
		     "                       line: name, default, reload (SIGHUP applies it) or\n"
		     "                       restart, accepted values, meaning (tab-separated)\n"
		     "  -r, --rebuild        replay the assigned partitions from the start of the\n"
		     "                       retained log into Redis (progress in the log), then\n"
		     "                       go on live; replayed events count once and publish\n"
		     "                       no alerts or dead letters again\n"
		     "  -V, --version        print the version and exit\n"
		     "  -h, --help           print this help and exit\n"
		     "\n"
		     "Signals: SIGTERM/SIGINT drain and exit, SIGHUP reloads the model and the\n"
		     "live-changeable keys. Exit codes follow sysexits(3): 78 for a bad\n"
		     "configuration, 64 for bad usage.\n");
}

/*
 * Keep freed heap for the next batch. Each batch mallocs librdkafka's
 * copies of its outputs (over 10 MB a batch of 30,000 events with ranks,
 * half that without) and frees them once delivered. By default glibc gives
 * the top of the heap back to the kernel each time, to fault it in again,
 * zeroed, the next batch: 40,000-60,000 page faults per million events
 * with ranks on. A fixed mmap threshold also keeps glibc from raising it,
 * and the trim threshold with it, at run time. The cost: about 5% more
 * peak RSS (see the README's Benchmarks). Best effort: a refused setting
 * leaves glibc's default.
 */
static void tune_malloc(void)
{
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

/* The key table, for ssid.conf(5) and for operators: one key per line, tab-separated. */
static int list_keys(void)
{
	struct ssid_config_key_info info;

	for (size_t i = 0; ssid_config_key_info(i, &info) == 0; i++)
		printf("%s\t%s\t%s\t%s\t%s\n", info.name, info.default_value,
		       info.reloadable ? "reload" : "restart", info.expected, info.help);
	return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'n'},
	    {"rebuild", no_argument, NULL, 'r'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {"list-keys", no_argument, NULL, 'K'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = DEFAULT_CONFIG;
	bool check_only = false, rebuild = false;
	struct ssid_config cfg;
	struct ssid_config_error ce;
	struct ssid_daemon *d = NULL;
	char err[1024];
	int c, r;

	tune_malloc();
	while ((c = getopt_long(argc, argv, "c:nrVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check_only = true;
			break;
		case 'r':
			rebuild = true;
			break;
		case 'V':
			printf("ssid %s\n", SSID_VERSION);
			return EX_OK;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'K':
			return list_keys();
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ssid: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}

	ssid_log_init("ssid", LOG_INFO);
	/* Event parsing then decodes into per-thread arenas: about 20% faster. */
	ssi_json_arena_install();
	r = ssid_config_load(&cfg, path, &ce);
	if (r < 0) {
		ssid_config_format_error(&ce, err, sizeof(err));
		log_err("%s", err);
		return EX_CONFIG;
	}
	ssid_log_set_level(cfg.log_level);
	if (ssid_config_secret_warning(&cfg, err, sizeof(err)))
		log_warn("%s", err);
	r = ssid_daemon_new(&d, &cfg, err, sizeof(err));
	ssid_config_free(&cfg);
	if (r < 0) {
		log_err("%s", err);
		return EX_CONFIG;
	}
	if (check_only) {
		printf("%s: configuration and model OK\n", path);
		ssid_daemon_free(d);
		return EX_OK;
	}
	if (ssid_daemon_install_signals() < 0) {
		log_err("cannot install signal handlers");
		ssid_daemon_free(d);
		return EX_OSERR;
	}
	if (rebuild)
		ssid_daemon_set_rebuild(d);
	r = ssid_daemon_run(d);
	ssid_daemon_free(d);
	return r;
}
