/* The course's shared-memory layout (specs/shm.md), as the template's
 * ring_buffer.h declares it, plus the ring protocol written the way a
 * student's ring_buffer.c would: C11-style __atomic builtins on the index
 * words, a memcpy'd descriptor, indices modulo RING_SIZE. kvbench's tests
 * compile this with gcc to check that the Go server and client interoperate
 * with C peers over the same file. Not part of kvbench's build. */
#pragma once

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RING_SIZE 1024

typedef unsigned int key_type;
typedef unsigned int value_type;

enum REQUEST_TYPE { PUT = 0, GET };

struct buffer_descriptor {
	enum REQUEST_TYPE req_type;
	key_type k;
	value_type v;
	int res_off;
	int ready;
};

struct __attribute__((packed, aligned(64))) ring {
	uint32_t p_tail;
	char pad1[60];
	uint32_t p_head;
	char pad2[60];
	uint32_t c_tail;
	char pad3[60];
	uint32_t c_head;
	char pad4[60];
	struct buffer_descriptor buffer[RING_SIZE];
};

_Static_assert(sizeof(struct buffer_descriptor) == 20, "descriptor size");
_Static_assert(sizeof(struct ring) == 20736, "ring size");

static inline uint32_t ring_next(uint32_t i) { return (i + 1) % RING_SIZE; }

static inline uint32_t ld(uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void st(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static inline void ring_submit(struct ring *r, struct buffer_descriptor *bd)
{
	uint32_t h;
	for (;;) {
		h = ld(&r->p_head);
		if (ring_next(h) == ld(&r->c_tail)) {
			sched_yield();
			continue;
		}
		if (__atomic_compare_exchange_n(&r->p_head, &h, ring_next(h), 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	memcpy(&r->buffer[h], bd, sizeof(*bd));
	while (ld(&r->p_tail) != h)
		sched_yield();
	st(&r->p_tail, ring_next(h));
}

static inline void ring_get(struct ring *r, struct buffer_descriptor *bd)
{
	uint32_t h;
	for (;;) {
		h = ld(&r->c_head);
		if (h == ld(&r->p_tail)) {
			sched_yield();
			continue;
		}
		if (__atomic_compare_exchange_n(&r->c_head, &h, ring_next(h), 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	memcpy(bd, &r->buffer[h], sizeof(*bd));
	while (ld(&r->c_tail) != h)
		sched_yield();
	st(&r->c_tail, ring_next(h));
}
