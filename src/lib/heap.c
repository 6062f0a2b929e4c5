/*
 * heap: binary min-heap with item-kept positions (see heap.h).
 */
#include "config.h"

#include <stdlib.h>

#include "lib/heap.h"
#include "lib/xmalloc.h"

void
heap_init(struct heap *h, bool (*less)(const void *, const void *),
    void (*setidx)(void *, size_t))
{
	h->v = NULL;
	h->n = h->cap = 0;
	h->less = less;
	h->setidx = setidx;
}

void
heap_free(struct heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

static void
heap_set(struct heap *h, size_t i, void *item)
{
	h->v[i] = item;
	h->setidx(item, i);
}

static void
heap_up(struct heap *h, size_t i)
{
	void *item = h->v[i];

	while (i > 0 && h->less(item, h->v[(i - 1) / 2])) {
		heap_set(h, i, h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(h, i, item);
}

static void
heap_down(struct heap *h, size_t i)
{
	void *item = h->v[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->less(h->v[c + 1], h->v[c]))
			c++;
		if (!h->less(h->v[c], item))
			break;
		heap_set(h, i, h->v[c]);
		i = c;
	}
	heap_set(h, i, item);
}

void
heap_push(struct heap *h, void *item)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->v = xreallocarray(h->v, h->cap, sizeof(*h->v));
	}
	h->v[h->n++] = item;
	heap_up(h, h->n - 1);
}

void *
heap_top(const struct heap *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}

void
heap_remove(struct heap *h, size_t idx)
{
	void *item = h->v[idx];

	h->setidx(item, HEAP_NONE);
	if (--h->n == idx)
		return;
	h->v[idx] = h->v[h->n];
	heap_update(h, idx);
}

void *
heap_pop(struct heap *h)
{
	void *top = heap_top(h);

	if (top != NULL)
		heap_remove(h, 0);
	return top;
}

void
heap_update(struct heap *h, size_t idx)
{
	if (idx > 0 && h->less(h->v[idx], h->v[(idx - 1) / 2]))
		heap_up(h, idx);
	else
		heap_down(h, idx);
}
