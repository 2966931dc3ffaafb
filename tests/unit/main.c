/* Runs every engine suite in one binary so Check prints one summary line. */
#include "suites.h"
#include "testutil.h"

int main(void)
{
	Suite *(*const suites[])(void) = {
	    time_suite,		  event_suite,	 model_suite,	state_suite,
	    codec_suite,	  score_suite,	 explain_suite, property_suite,
	    persona_suite,	  gen_suite,	 history_suite, alert_suite,
	    poison_parse_suite,	  parts_suite,	 out_suite,	rank_engine_suite,
	    cache_suite,	  sched_suite,	 conns_suite,	text_suite,
	    warmup_suite,	  band_suite,	 boards_suite,	forecast_suite,
	    alert_forecast_suite, metrics_suite, cluster_suite,
	};

	return t_run_suites(suites, sizeof(suites) / sizeof(suites[0]));
}
