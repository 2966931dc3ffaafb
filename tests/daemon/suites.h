/* The daemon's Check suites; each lives in its own file under tests/daemon. */
#ifndef SSID_TEST_DAEMON_SUITES_H
#define SSID_TEST_DAEMON_SUITES_H

#include <check.h>

Suite *config_suite(void);
TCase *config_keys_tcase(void); /* in the config suite */
Suite *notify_suite(void);
Suite *log_suite(void);
/* Daemon modules against a real redis-server. */
Suite *history_store_suite(void);
Suite *store_suite(void);
Suite *rank_suite(void);       /* hand-checked ranks, averages, floor, boards (test_rank.c) */
TCase *rank_model_tcase(void); /* random batches against a plain model (test_rank_model.c) */
TCase *rank_store_tcase(void); /* what is stored, what it costs, errors (test_rank_store.c) */
Suite *rank_read_suite(void);
/* The Redis Cluster client (ssid_redis with redis.cluster) against a 3x3 cluster. */
Suite *redis_cluster_suite(void);
/* ssid on a 3x3 cluster through a master's kill -9 and a reshard (tag cluster3). */
Suite *cluster_faults_suite(void);
/* ssid in a thread against redis-server and the mock cluster. */
Suite *integration_suite(void);
/* The poison corpus (tests/poison) through a running ssid. */
Suite *poison_suite(void);
/* The ssid binary: crashes, signals, exit codes, sd_notify. */
Suite *process_suite(void);
/* ssictl and network rank against redis-server and the mock cluster: */
Suite *ssictl_suite(void);	    /* score, history, alerts (test_ssictl.c) */
TCase *ssictl_rank_tcase(void);	    /* rank, around, top (test_ssictl_rank.c) */
TCase *ssictl_exit_tcase(void);	    /* exit codes and usage (test_ssictl_exit.c) */
TCase *ssictl_forecast_tcase(void); /* forecast, whatif (test_ssictl_forecast.c) */
TCase *network_tcase(void);	    /* network ranks (test_network.c) */
/* ssid in a thread, end to end (e2e.h): */
Suite *ranks_e2e_suite(void);	 /* ranks in score.updated, rank.changed, leaderboards */
Suite *decay_alerts_suite(void); /* decay, alerts, history, decay schedules through a rebalance */
Suite *rebuild_suite(void);	 /* Redis emptied and rebuilt, a model change rescoring everyone */
Suite *onboarding_suite(void);	 /* a backfill through the live topic, the event-age boundary */
/* Secrets from files, never printed, against a password-protected redis-server (test_secrets.c) */
Suite *secrets_suite(void);
TCase *producer_tcase(void); /* a fatal producer error: producer replaced (test_producer.c) */
Suite *forecast_alerts_suite(void); /* forecast_below on a walked clock, a model change */
/* /metrics, /healthz, /readyz scraped from ssid in a thread; data loss made loud. */
Suite *metrics_suite(void);

#endif
