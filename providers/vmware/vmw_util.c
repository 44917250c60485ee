/*
 * vmw_util.c - the id set that merges the parts of a partitioned
 * listing (the other helpers are shared: buf.h, common/pv_util.h).
 */
#include "vmw_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Id set over a vs_vm_list.                                           */

void vmw_idset_release(struct vmw_idset *s)
{
	if (!s)
		return;
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

static size_t vmw_idset_slot(const struct vmw_idset *s,
			     const struct vs_vm_list *l, const char *id)
{
	size_t i = (size_t)pv_hash(id) & (s->cap - 1);

	while (s->slots[i] && strcmp(l->items[s->slots[i] - 1].id, id) != 0)
		i = (i + 1) & (s->cap - 1);
	return i;
}

size_t vmw_idset_find(const struct vmw_idset *s, const struct vs_vm_list *l,
		      const char *id)
{
	size_t i;

	if (!s->cap)
		return (size_t)-1;
	i = vmw_idset_slot(s, l, id);
	return s->slots[i] ? s->slots[i] - 1 : (size_t)-1;
}

int vmw_idset_add(struct vmw_idset *s, const struct vs_vm_list *l, size_t idx)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		struct vmw_idset ns;

		ns.cap = s->cap ? s->cap * 2 : 1024;
		ns.n = s->n;
		ns.slots = calloc(ns.cap, sizeof(*ns.slots));
		if (!ns.slots)
			return VS_ERR;
		for (i = 0; i < s->cap; i++)
			if (s->slots[i])
				ns.slots[vmw_idset_slot(
					&ns, l, l->items[s->slots[i] - 1].id)] =
					s->slots[i];
		free(s->slots);
		*s = ns;
	}
	i = vmw_idset_slot(s, l, l->items[idx].id);
	if (!s->slots[i]) {
		s->slots[i] = idx + 1;
		s->n++;
	}
	return VS_OK;
}
