/*
 * ssictl: the operators' and backends' command line over what ssid keeps
 * (scores, ranks, leaderboards, history, alerts). Everything but signal
 * wiring lives in src/ssictl_*.c (ssictl.h), so the tests run the same code.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ssictl.h"

static void on_signal(int sig)
{
	(void)sig;
	ssictl_request_stop();
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	/* alerts --follow stops cleanly on SIGINT/SIGTERM; other commands are short. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return ssictl_run(argc, argv, stdout, stderr);
}
