// SPDX-License-Identifier: LGPL-2.1-or-later
#include "heap_trim.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define TRIM_INTERVAL_USEC (2 * 1000 * 1000)
/* Free heap worth giving back; below it a trim is not worth its walk. */
#define TRIM_FREE_BYTES (1u << 20)

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct mallinfo2 mi = mallinfo2();

	/* fordblks: free bytes in the arenas, the top pad included. */
	if (mi.fordblks >= TRIM_FREE_BYTES)
		malloc_trim(0);
	return sd_event_source_set_time_relative(s, TRIM_INTERVAL_USEC);
}

int heap_trim_start(sd_event *loop, sd_event_source **out)
{
	int r;

	/* Soon after start: the BPF object's load has just freed what it used. */
	r = sd_event_add_time_relative(loop, out, CLOCK_MONOTONIC, 1000 * 1000, 100 * 1000,
				       on_timer, NULL);
	if (r >= 0)
		r = sd_event_source_set_enabled(*out, SD_EVENT_ON);
	return r;
}
