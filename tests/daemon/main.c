/*
 * Runs every daemon suite in one binary, so Check prints one summary line.
 * Tests run from the repository root (config/model.json) and start the
 * ssid binary that sits next to this one's directory (../ssid).
 */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_add_suite(sr, notify_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, history_store_suite());
	srunner_add_suite(sr, store_suite());
	srunner_add_suite(sr, rank_suite());
	srunner_add_suite(sr, rank_read_suite());
	srunner_add_suite(sr, integration_suite());
	srunner_add_suite(sr, poison_suite());
	srunner_add_suite(sr, process_suite());
	srunner_add_suite(sr, ssictl_suite());
	srunner_add_suite(sr, ranks_e2e_suite());
	srunner_add_suite(sr, decay_alerts_suite());
	srunner_add_suite(sr, rebuild_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
