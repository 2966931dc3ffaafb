/*
 * ssictl_history: history USER [--days N]: the score in effect on each of
 * the last days (ssid_history). See ssictl_int.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "ssi_history.h"
#include "ssi_time.h"
#include "ssid_history.h"
#include "ssictl_int.h"

/* A UTC day number as "YYYY-MM-DD". */
static void date_of(int32_t day, char buf[SSI_TIME_BUFLEN])
{
	ssi_time_format(ssi_time_day_start(day), buf);
	buf[10] = '\0';
}

/* history: the score in effect on each of the last days, from the first known one. */
int ssictl_cmd_history(struct ctl *c, const char *user)
{
	struct ssi_history h;
	struct ssi_history_entry *pts = NULL;
	int32_t today = ssi_time_day(c->now_ms), from = today - c->days + 1;
	char date[SSI_TIME_BUFLEN], b[5][16];
	long n = 0;
	int r;

	ssi_history_init(&h);
	r = ssid_history_load(c->hist, user, &h);
	if (r == -EBADMSG || r == -EPROTONOSUPPORT) {
		r = ssictl_fail(c, SSICTL_EXIT_UNREADABLE,
				"the stored history of '%s' is unreadable: %s", user,
				r == -EPROTONOSUPPORT ? "written by a newer ssid" : "corrupt");
		goto out;
	}
	if (r < 0) {
		r = ssictl_redis_error(c, r, ssid_history_errstr(c->hist));
		goto out;
	}
	if (r == 0) {
		int exists = ssictl_user_exists(c, user);

		if (exists <= 0) {
			r = exists < 0 ? -exists : ssictl_unknown_user(c, user);
			goto out;
		}
	}
	pts = calloc((size_t)c->days, sizeof(*pts));
	if (!pts) {
		r = ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "out of memory");
		goto out;
	}
	n = ssi_history_get(&h, from, today, pts, (size_t)c->days);
	if (n < 0)
		n = 0;
	r = 0;
	if (c->json) {
		json_t *o = json_object(), *days = json_array();

		json_object_set_new(o, "user_id", json_string(user));
		date_of(from, date);
		json_object_set_new(o, "from", json_string(date));
		date_of(today, date);
		json_object_set_new(o, "to", json_string(date));
		for (long i = 0; i < n; i++) {
			json_t *d = json_object(), *sc = ssictl_score_json(&pts[i].score);

			date_of(pts[i].day, date);
			json_object_set_new(d, "date", json_string(date));
			json_object_update(d, sc);
			json_decref(sc);
			json_array_append_new(days, d);
		}
		json_object_set_new(o, "days", days);
		r = ssictl_emit(c, o);
		goto out;
	}
	if (n == 0) {
		fprintf(c->out, "no score recorded in the last %d days\n", c->days);
	} else {
		fprintf(c->out, "%-10s %7s %7s %7s %9s %14s\n", "date", "SSI", "brand", "people",
			"insights", "relationships");
		for (long i = 0; i < n; i++) {
			date_of(pts[i].day, date);
			fprintf(c->out, "%-10s %7s %7s %7s %9s %14s\n", date,
				ssictl_cp(pts[i].score.total, b[0], sizeof(b[0])),
				ssictl_cp(pts[i].score.pillar[0], b[1], sizeof(b[1])),
				ssictl_cp(pts[i].score.pillar[1], b[2], sizeof(b[2])),
				ssictl_cp(pts[i].score.pillar[2], b[3], sizeof(b[3])),
				ssictl_cp(pts[i].score.pillar[3], b[4], sizeof(b[4])));
		}
	}
	fflush(c->out);
out:
	free(pts);
	ssi_history_clear(&h);
	return r;
}
