/*
 * ssictl_cli: ssictl's command line (options, the command table, the help
 * text), the order a command runs in (configuration, Redis, the command) and
 * the stop flag; see ssictl.h and ssictl_int.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_history.h"
#include "ssid_history.h"
#include "ssid_rank.h"
#include "ssid_redis.h"
#include "ssid_store.h"
#include "ssictl_int.h"

#define AROUND_MAX	      1000
#define FORECAST_DEFAULT_DAYS 14

static atomic_int stop_requested;

/* A flag, so that it may be called from a signal handler. */
void ssictl_request_stop(void)
{
	atomic_store(&stop_requested, 1);
}

bool ssictl_stopping(void)
{
	return atomic_load(&stop_requested);
}

static const char *const opt_names[] = {"--explain", "-k", "-n", "--days", "--follow"};

enum command {
	CMD_SCORE,
	CMD_RANK,
	CMD_AROUND,
	CMD_TOP,
	CMD_HISTORY,
	CMD_ALERTS,
	CMD_FORECAST,
	CMD_WHATIF,
	CMD__COUNT
};

struct command_info {
	const char *name;
	int min_args, max_args; /* after the command word */
	unsigned opts;		/* the OPT_* it takes */
	const char *synopsis;
};

static const struct command_info commands[CMD__COUNT] = {
    [CMD_SCORE] = {"score", 1, 1, OPT_EXPLAIN, "score USER [--explain]"},
    [CMD_RANK] = {"rank", 1, 1, 0, "rank USER"},
    [CMD_AROUND] = {"around", 1, 1, OPT_K, "around USER [-k K]"},
    [CMD_TOP] = {"top", 1, 3, OPT_N, "top SEGMENT [VALUE] [-n N]"},
    [CMD_HISTORY] = {"history", 1, 1, OPT_DAYS, "history USER [--days N]"},
    [CMD_ALERTS] = {"alerts", 0, 0, OPT_FOLLOW, "alerts [--follow]"},
    [CMD_FORECAST] = {"forecast", 1, 1, OPT_DAYS, "forecast USER [--days N]"},
    [CMD_WHATIF] = {"whatif", 2, 1 + SSI_WHATIF_ACTIONS_MAX, 0, "whatif USER TYPE[=COUNT]..."},
};

/* The help text, exit codes included: the contract scripts rely on. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: ssictl [-c CONFIG] [--json] COMMAND [ARGS]\n"
		"\n"
		"Read what ssid keeps: scores, ranks, leaderboards, history and alerts.\n"
		"Uses ssid's configuration file (Redis, model, clock, Kafka).\n"
		"\n"
		"Commands:\n"
		"  score USER [--explain]      SSI and pillars now, segments, model, last\n"
		"                              published score; --explain: points and headroom\n"
		"                              per pillar and variable, the three best actions\n"
		"  rank USER                   rank, size, top %% and average per segment:\n"
		"                              global, industry, tenant, team, network\n"
		"  around USER [-k K]          the K reps just above and below in each\n"
		"                              segment (default 3; not for network)\n"
		"  top SEGMENT [VALUE] [-n N]  leaderboard of global, industry NAME, tenant NAME\n"
		"                              or team TENANT/TEAM (default 10)\n"
		"  history USER [--days N]     SSI and pillars per day (default 30 days)\n"
		"  alerts [--follow]           alerts in the output topic; --follow: print new\n"
		"                              ones as they come, until SIGINT or SIGTERM\n"
		"  forecast USER [--days N]    SSI and pillars at the start of each of the next\n"
		"                              N days (default 14, at most 90) if nothing\n"
		"                              happens, and what ages out of the window\n"
		"  whatif USER TYPE[=COUNT]... SSI and pillars now if COUNT (default 1) events\n"
		"                              of each TYPE happened now, and the gain\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE   configuration file (default " SSICTL_DEFAULT_CONFIG ")\n"
		"  -j, --json          one JSON document per command (alerts --follow: one\n"
		"                      per alert and line)\n"
		"  -h, --help          print this help;  -V, --version  print the version\n"
		"\n"
		"Segments below rank.min_members reps show no rank, percentile or average.\n"
		"\n"
		"Exit codes:\n"
		"   0  done\n"
		"   2  unknown user (or not ranked yet)\n"
		"   3  unknown segment (no ranked rep in it)\n"
		"   4  stored data unreadable (corrupt, or written by a newer ssid)\n"
		"  64  bad command line\n"
		"  69  Redis or Kafka unavailable\n"
		"  70  internal error (out of memory)\n"
		"  78  bad configuration or model file\n");
}

/*
 * The value (optarg) of a numeric option (opt, one of OPT_*): a whole
 * decimal number in 1..hi, nothing else ("5x" and "" are usage errors,
 * "what, 1 to hi").
 */
static int int_option(struct ctl *c, unsigned opt, const char *what, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(optarg, &end, 10);
	if (errno || end == optarg || *end || v < 1 || v > hi)
		return ssictl_usage_error(c, "%s, 1 to %d", what, hi);
	*out = (int)v;
	c->opts |= opt;
	return 0;
}

/* Options anywhere on the line (getopt permutes); *done after --help or --version. */
static int parse_command_line(struct ctl *c, int argc, char **argv, bool *done)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
	    {"explain", no_argument, NULL, 'e'},      {"follow", no_argument, NULL, 'f'},
	    {"days", required_argument, NULL, 'd'},   {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	int opt, r = 0;

	*done = false;
	optind = 0; /* a full rescan: ssictl_run may run more than once per process */
	opterr = 0;
	while (r == 0 && (opt = getopt_long(argc, argv, ":c:jefd:k:n:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			c->config_path = optarg;
			break;
		case 'j':
			c->json = true;
			break;
		case 'e':
			c->opts |= OPT_EXPLAIN;
			break;
		case 'f':
			c->opts |= OPT_FOLLOW;
			break;
		case 'd':
			r = int_option(c, OPT_DAYS, "--days takes a number of days",
				       SSI_HISTORY_RETENTION_MAX, &c->days);
			break;
		case 'k':
			r = int_option(c, OPT_K, "-k takes a number of reps", AROUND_MAX, &c->k);
			break;
		case 'n':
			r = int_option(c, OPT_N, "-n takes a number of reps", SSID_RANK_TOP_MAX,
				       &c->n);
			break;
		case 'h':
			usage(c->out);
			*done = true;
			return 0;
		case 'V':
			fprintf(c->out, "ssictl %s\n", SSID_VERSION);
			*done = true;
			return 0;
		case ':':
			return ssictl_usage_error(c, "option %s needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return ssictl_usage_error(c, "unknown option -%c", optopt);
			return ssictl_usage_error(c, "unknown option %s", argv[optind - 1]);
		}
	}
	return r;
}

/* Configuration first, then connections, then the command: so that exit codes say which failed. */
static int dispatch(struct ctl *c, enum command cmd, int nargs, char **args)
{
	struct ssi_whatif_action actions[SSI_WHATIF_ACTIONS_MAX];
	int r;

	if (cmd != CMD_TOP && nargs >= 1 && (r = ssictl_check_user_id(c, args[0])) != 0)
		return r;
	if (cmd == CMD_WHATIF && (r = ssictl_whatif_actions(c, nargs - 1, args + 1, actions)) != 0)
		return r;
	r = ssictl_load_config(c, cmd == CMD_SCORE || cmd == CMD_FORECAST || cmd == CMD_WHATIF);
	if (r != 0)
		return r;
	if (cmd == CMD_ALERTS)
		return ssictl_cmd_alerts(c);
	r = ssictl_open_redis(c);
	if (r != 0)
		return r;
	switch (cmd) {
	case CMD_SCORE:
		return ssictl_cmd_score(c, args[0]);
	case CMD_RANK:
		return ssictl_cmd_rank(c, args[0]);
	case CMD_AROUND:
		return ssictl_cmd_around(c, args[0]);
	case CMD_TOP:
		return ssictl_cmd_top(c, nargs, args);
	case CMD_HISTORY:
		return ssictl_cmd_history(c, args[0]);
	case CMD_FORECAST:
		return ssictl_cmd_forecast(c, args[0]);
	case CMD_WHATIF:
		return ssictl_cmd_whatif(c, args[0], actions, nargs - 1);
	default:
		return SSICTL_EXIT_SOFTWARE;
	}
}

/* Check the command line against the command table, run it, release everything. */
int ssictl_run(int argc, char **argv, FILE *out, FILE *err)
{
	struct ctl c = {
	    .out = out,
	    .err = err,
	    .config_path = SSICTL_DEFAULT_CONFIG,
	    .k = 3,
	    .n = SSID_RANK_DEFAULT_TOP_N,
	    .days = 30,
	};
	const struct command_info *ci = NULL;
	enum command cmd = CMD__COUNT;
	bool done;
	int r, nargs;

	atomic_store(&stop_requested, 0);
	r = parse_command_line(&c, argc, argv, &done);
	if (r != 0 || done)
		return r;
	if (optind >= argc)
		return ssictl_usage_error(&c, "no command given");
	for (int i = 0; i < CMD__COUNT; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = (enum command)i;
	if (cmd == CMD__COUNT)
		return ssictl_usage_error(&c, "unknown command '%s'", argv[optind]);
	ci = &commands[cmd];
	nargs = argc - optind - 1;
	if (nargs < ci->min_args || nargs > ci->max_args)
		return ssictl_usage_error(&c, "usage: ssictl %s", ci->synopsis);
	for (unsigned i = 0; i < sizeof(opt_names) / sizeof(opt_names[0]); i++)
		if ((c.opts & (1u << i)) && !(ci->opts & (1u << i)))
			return ssictl_usage_error(&c, "%s does not apply to %s", opt_names[i],
						  ci->name);
	if (cmd == CMD_FORECAST && !(c.opts & OPT_DAYS))
		c.days = FORECAST_DEFAULT_DAYS;
	if (cmd == CMD_FORECAST && c.days > SSI_FORECAST_DAYS_MAX)
		return ssictl_usage_error(&c, "--days takes a number of days, 1 to %d",
					  SSI_FORECAST_DAYS_MAX);
	r = dispatch(&c, cmd, nargs, argv + optind + 1);
	ssid_history_free(c.hist);
	free(c.parts);
	ssid_store_free(c.store);
	ssid_redis_free(c.rd);
	ssid_config_free(&c.cfg);
	return r;
}
