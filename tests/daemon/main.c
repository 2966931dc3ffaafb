/*
 * Runs every daemon suite in one binary, so Check prints one summary line.
 * Tests run from the repository root (config/model.json) and start the
 * ssid binary that sits next to this one's directory (../ssid).
 */
#include "suites.h"
#include "testutil.h"

int main(void)
{
	Suite *(*const suites[])(void) = {
	    config_suite,	   notify_suite,  log_suite,	       history_store_suite,
	    store_suite,	   rank_suite,	  rank_read_suite,     integration_suite,
	    poison_suite,	   process_suite, ssictl_suite,	       ranks_e2e_suite,
	    decay_alerts_suite,	   rebuild_suite, onboarding_suite,    secrets_suite,
	    forecast_alerts_suite, metrics_suite, redis_cluster_suite, cluster_faults_suite,
	};

	return t_run_suites(suites, sizeof(suites) / sizeof(suites[0]));
}
