/*
 * heap: a binary min-heap of pointers with positions kept in the items,
 * so that an item can be removed or re-keyed in O(log n).  The owner
 * gives the order (`less`) and where an item keeps its index (`setidx`).
 */
#ifndef TERN_LIB_HEAP_H
#define TERN_LIB_HEAP_H

#include <stdbool.h>
#include <stddef.h>

#define HEAP_NONE	((size_t)-1)	/* the index of an item not in a heap */

struct heap {
	void	**v;
	size_t	  n, cap;
	bool	(*less)(const void *a, const void *b);
	void	(*setidx)(void *item, size_t idx);
};

void	heap_init(struct heap *h, bool (*less)(const void *, const void *),
	    void (*setidx)(void *, size_t));
void	heap_free(struct heap *h);
void	heap_push(struct heap *h, void *item);
/* The least item, or NULL. */
void	*heap_top(const struct heap *h);
void	*heap_pop(struct heap *h);
/* Remove the item at idx (its setidx'd position). */
void	heap_remove(struct heap *h, size_t idx);
/* The item at idx changed its key. */
void	heap_update(struct heap *h, size_t idx);

#endif
