/* placeholder */
#include "fixture.h"
#include "suites.h"

Suite *secrets_suite(void)
{
	Suite *s = suite_create("secrets");

	suite_add_tcase(s, producer_tcase());
	return s;
}
