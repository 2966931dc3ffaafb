/*
 * ssi_event: the activity event contract v1 and its parser.
 *
 * One JSON object per Kafka message value. The parser turns the bytes into a
 * fixed-size struct ssi_event (no heap pointers: it can be copied, queued and
 * freed with the batch) or rejects them with a stable reason code and a human
 * message in a struct ssi_reject, the way jansson reports in json_error_t.
 *
 * Parsing is split in two because only the second half needs a clock:
 *   ssi_event_parse()      syntax, types, sizes, vocabulary;
 *   ssi_event_check_time() too_old / in_future against the model's window.
 */
#ifndef SSI_EVENT_H
#define SSI_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSI_ID_MAX		    128 /* bytes, for event_id, user_id and segment values */
#define SSI_EVENT_MAX_DEPTH	    8
#define SSI_EVENT_DEFAULT_MAX_BYTES 65536

enum ssi_event_type {
	/* brand */
	SSI_EV_PROFILE_UPDATED,
	SSI_EV_ENDORSEMENT_RECEIVED,
	SSI_EV_ARTICLE_PUBLISHED,
	SSI_EV_FOLLOWER_GAINED,
	/* people */
	SSI_EV_SEARCH_PERFORMED,
	SSI_EV_PROFILE_VIEWED,
	SSI_EV_PROFILE_VIEW_RECEIVED,
	SSI_EV_SESSION_STARTED,
	SSI_EV_LEAD_SAVED,
	/* insights */
	SSI_EV_POST_SHARED,
	SSI_EV_REACTION_RECEIVED,
	SSI_EV_COMMENT_RECEIVED,
	SSI_EV_RESHARE_RECEIVED,
	SSI_EV_REACTION_GIVEN,
	SSI_EV_COMMENT_GIVEN,
	SSI_EV_MESSAGE_SENT,
	SSI_EV_INMAIL_SENT,
	SSI_EV_INMAIL_REPLIED,
	SSI_EV_GROUP_JOINED,
	SSI_EV_GROUP_ACTIVITY,
	/* relationships */
	SSI_EV_CONNECTION_ADDED,
	SSI_EV_CONNECTION_REMOVED,
	SSI_EV_INVITATION_SENT,
	SSI_EV_INVITATION_ACCEPTED,
	SSI_EV_PROSPECT_CONTENT_SHARED,
	SSI_EV__COUNT
};

enum ssi_segment { SSI_SEG_TENANT, SSI_SEG_TEAM, SSI_SEG_INDUSTRY, SSI_SEG__COUNT };

/* Seniority of a new connection; UNKNOWN when the attr is absent. */
enum ssi_seniority {
	SSI_SEN_UNKNOWN,
	SSI_SEN_ENTRY,
	SSI_SEN_SENIOR,
	SSI_SEN_MANAGER,
	SSI_SEN_DIRECTOR,
	SSI_SEN_VP,
	SSI_SEN_CXO,
	SSI_SEN_OWNER,
	SSI_SEN_PARTNER,
	SSI_SEN__COUNT
};

/* Profile completeness as carried by profile_updated: a whole snapshot. */
struct ssi_profile {
	bool photo;
	bool background_photo;
	bool headline;
	bool summary;
	bool experience;
	uint8_t skills;		/* clamped to 255 */
	uint8_t featured_media; /* clamped to 255 */
};

struct ssi_event {
	enum ssi_event_type type;
	int64_t occurred_at_ms;
	uint64_t fingerprint; /* ssi_event_fingerprint(event_id) */
	char event_id[SSI_ID_MAX + 1];
	char user_id[SSI_ID_MAX + 1];
	/* Empty string: the event carried no such segment. */
	char segment[SSI_SEG__COUNT][SSI_ID_MAX + 1];
	union {
		struct ssi_profile profile; /* profile_updated */
		struct {
			int filters; /* search_performed, >= 0 */
		} search;
		struct {
			int degree; /* profile_viewed: 1, 2 or 3 */
		} view;
		struct { /* connection_added/_removed */
			enum ssi_seniority seniority;
			bool same_company;
			char connection_id[SSI_ID_MAX + 1]; /* "" when absent */
		} connection;
	} attrs;
};

/*
 * Why an event was rejected. code is stable and machine readable
 * ("invalid_json", "missing_field:user_id", "bad_timestamp", "unknown_type",
 * "wrong_type:attrs.degree", "too_large", "too_deep", "too_long:event_id",
 * "too_old", "in_future", ...); message is for people.
 */
struct ssi_reject {
	char code[64];
	char message[192];
};

struct ssi_event_limits {
	size_t max_bytes; /* payloads above are too_large; 0 means the default */
	/*
	 * Decode with plain malloc even when the ssi_json arena is installed:
	 * for valgrind, which cannot see overruns inside an arena.
	 */
	bool no_arena;
};

/*
 * Parse one event from len bytes (not NUL-terminated; NUL bytes inside are a
 * rejection). Returns 0 and fills *ev (every byte, so events compare with
 * memcmp), or -EINVAL and fills *why. -ENOMEM (code "out_of_memory") means
 * the event could not be judged: retry it, do not dead-letter it.
 * lim may be NULL (the defaults), why may be NULL (no details).
 *
 * A JSON null counts as an absent field everywhere. Unknown fields and
 * attrs are ignored; a known one with the wrong JSON type or value is not.
 * why->message is printable ASCII: bytes of the input it quotes that are
 * not are shown as '?', so it can go to any log or header as is.
 *
 * Thread-safe; allocates only through jansson, and frees what it allocates.
 * Once ssi_json_arena_install() has run it decodes into an arena owned by
 * the calling thread (allocated on first use, freed at thread exit), which
 * pays for all of the validation: parse + validate then costs about what a
 * bare json_loadb() of the same bytes costs with malloc.
 */
int ssi_event_parse(const void *buf, size_t len, const struct ssi_event_limits *lim,
		    struct ssi_event *ev, struct ssi_reject *why);

/*
 * Events that set state rather than count activity (profile_updated,
 * connection_added, connection_removed): the profile and the connection base
 * are not windowed, so such events are never too old -- a connection made
 * two years ago still counts, and onboarding can backfill the whole base.
 */
bool ssi_event_is_state(enum ssi_event_type t);

/*
 * Check the event time against the rolling window ending at now_ms:
 * earlier than the first day of the window is too_old (state events
 * excepted, see ssi_event_is_state), later than
 * now_ms + future_tolerance_ms is in_future. Returns 0 or -ERANGE with *why;
 * -EINVAL (code "invalid_argument") when window_days < 1 or the tolerance
 * is negative.
 */
int ssi_event_check_time(const struct ssi_event *ev, int window_days, int64_t future_tolerance_ms,
			 int64_t now_ms, struct ssi_reject *why);

/* 64-bit FNV-1a of the event id: the key the state deduplicates on. */
uint64_t ssi_event_fingerprint(const char *event_id, size_t len);

/* "post_shared" for SSI_EV_POST_SHARED; NULL when out of range. */
const char *ssi_event_type_name(enum ssi_event_type t);
/* Inverse of ssi_event_type_name; -1 when unknown. */
int ssi_event_type_from_name(const char *name, size_t len);

const char *ssi_segment_name(enum ssi_segment s);
/* "unknown" for SSI_SEN_UNKNOWN: a display name, not a value events carry. */
const char *ssi_seniority_name(enum ssi_seniority s);
/* The eight contract values ("entry" ... "partner"); -1 for anything else. */
int ssi_seniority_from_name(const char *name, size_t len);

#endif
