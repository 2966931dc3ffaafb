/* Runs every engine suite in one binary so Check prints one summary line. */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	Suite *(*const suites[])(void) = {
	    time_suite,	       event_suite,   model_suite,	  state_suite,	 codec_suite,
	    score_suite,       explain_suite, property_suite,	  persona_suite, gen_suite,
	    history_suite,     alert_suite,   poison_parse_suite, parts_suite,	 out_suite,
	    rank_engine_suite, cache_suite,
	};
	SRunner *sr = srunner_create(NULL);
	int failed;

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
