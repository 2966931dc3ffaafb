/* The engine's Check suites; each lives in its own file under tests/unit. */
#ifndef SSI_TEST_SUITES_H
#define SSI_TEST_SUITES_H

#include <check.h>

Suite *time_suite(void);
Suite *event_suite(void);
Suite *model_suite(void);
Suite *state_suite(void);
Suite *codec_suite(void);
Suite *score_suite(void);
Suite *explain_suite(void);
Suite *property_suite(void);
Suite *persona_suite(void);
Suite *gen_suite(void);
Suite *history_suite(void);
Suite *alert_suite(void);
Suite *poison_parse_suite(void);
Suite *parts_suite(void);
Suite *out_suite(void);
Suite *rank_engine_suite(void);
Suite *cache_suite(void);
Suite *sched_suite(void);
Suite *conns_suite(void); /* ssid_conns */
Suite *text_suite(void);
Suite *warmup_suite(void);
Suite *band_suite(void);
Suite *boards_suite(void);
Suite *forecast_suite(void);
Suite *alert_forecast_suite(void);
Suite *metrics_suite(void); /* ssid_metrics, ssid_http, promtool (test_metrics.c) */
Suite *cluster_suite(void);

#endif
