/* The fault suite's test cases; each lives in its own file under tests/fault. */
#ifndef SSID_TEST_FAULT_SUITES_H
#define SSID_TEST_FAULT_SUITES_H

#include <check.h>

/* kill -9 of ssid at a dozen points of a 200,000-event stream. */
TCase *fault_kill_tcase(void);
/* redis-server away for 30 s, back with its data or empty. */
TCase *fault_redis_tcase(void);
/* Three ssid in one group: one killed, one added. */
TCase *fault_group_tcase(void);
/* The poison corpus on the real broker. */
TCase *fault_poison_tcase(void);
/* Events deleted by retention.bytes while ssid is paused: logged and counted. */
TCase *fault_retention_tcase(void);
/* The Kafka broker killed and stopped mid-stream (last: it restarts the suite's broker). */
TCase *fault_broker_tcase(void);

#endif
