/*
 * sim_inv.c - the inventory: VMs, the id index, the delete lifecycle,
 * markers, and the inventory file loader (JSON or YAML).
 *
 * VMs are never unlinked while the simulator runs; a deleted one only
 * becomes "gone".  That keeps positions stable, so a listing page starts
 * at its marker with one index lookup instead of a scan, and a marker
 * naming a deleted server still pages (as in Nova).
 */
#include "sim_core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "timeutil.h"

/* ------------------------------------------------------------------ */
/* VMs. */

struct sim_vm *sim_vm_new(const char *name)
{
	struct sim_vm *vm = calloc(1, sizeof(*vm));

	if (vm == NULL)
		return NULL;
	vm->name = strdup(name ? name : "");
	if (vm->name == NULL) {
		free(vm);
		return NULL;
	}
	return vm;
}

void sim_vm_free(struct sim_vm *vm)
{
	if (vm == NULL)
		return;
	free(vm->name);
	free(vm->folder);
	free(vm->cluster);
	free(vm->description);
	free(vm->comment);
	free(vm->fault_msg);
	for (size_t i = 0; i < vm->ntags; i++)
		free(vm->tags[i]);
	free(vm->tags);
	for (size_t i = 0; i < vm->nmeta; i++) {
		free(vm->meta[i].key);
		free(vm->meta[i].value);
	}
	free(vm->meta);
	free(vm);
}

int sim_vm_set_str(char **field, const char *value)
{
	char *copy = NULL;

	if (value != NULL && (copy = strdup(value)) == NULL)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

int sim_vm_add_tag(struct sim_vm *vm, const char *tag)
{
	char **t = realloc(vm->tags, (vm->ntags + 1) * sizeof(*t));

	if (t == NULL)
		return -1;
	vm->tags = t;
	if ((t[vm->ntags] = strdup(tag)) == NULL)
		return -1;
	vm->ntags++;
	return 0;
}

int sim_vm_set_meta(struct sim_vm *vm, const char *key, const char *value)
{
	struct sim_kv *m;
	char *v = strdup(value), *k;

	if (v == NULL)
		return -1;
	for (size_t i = 0; i < vm->nmeta; i++) {
		if (strcmp(vm->meta[i].key, key) == 0) {
			free(vm->meta[i].value);
			vm->meta[i].value = v;
			return 0;
		}
	}
	m = realloc(vm->meta, (vm->nmeta + 1) * sizeof(*m));
	if (m == NULL || (k = strdup(key)) == NULL) {
		if (m != NULL)
			vm->meta = m;
		free(v);
		return -1;
	}
	vm->meta = m;
	m[vm->nmeta].key = k;
	m[vm->nmeta].value = v;
	vm->nmeta++;
	return 0;
}

bool sim_vm_has_tag(const struct sim_vm *vm, const char *tag)
{
	for (size_t i = 0; i < vm->ntags; i++)
		if (strcmp(vm->tags[i], tag) == 0)
			return true;
	return false;
}

const char *sim_vm_meta(const struct sim_vm *vm, const char *key)
{
	for (size_t i = 0; i < vm->nmeta; i++)
		if (strcmp(vm->meta[i].key, key) == 0)
			return vm->meta[i].value;
	return NULL;
}

bool sim_vm_marked_keep(const struct sim_vm *vm)
{
	if (sim_vm_has_tag(vm, SIM_MARK_KEEP) ||
	    sim_vm_meta(vm, SIM_MARK_KEEP) != NULL)
		return true;
	return (vm->description && strstr(vm->description, SIM_MARK_KEEP)) ||
	       (vm->comment && strstr(vm->comment, SIM_MARK_KEEP));
}

/* The time after "vmsweep:expires=" somewhere in s, or 0. */
static int64_t expires_in_text(const char *s)
{
	static const char mark[] = SIM_MARK_EXPIRES "=";
	const char *p;
	char stamp[64];
	size_t n = 0;
	int64_t t;

	if (s == NULL || (p = strstr(s, mark)) == NULL)
		return 0;
	p += sizeof(mark) - 1;
	while (p[n] && p[n] != ' ' && p[n] != ',' && p[n] != ';' &&
	       n + 1 < sizeof(stamp)) {
		stamp[n] = p[n];
		n++;
	}
	stamp[n] = '\0';
	return vs_time_parse(stamp, &t) == 0 ? t : 0;
}

int64_t sim_vm_expires(const struct sim_vm *vm)
{
	const char *v = sim_vm_meta(vm, SIM_MARK_EXPIRES);
	int64_t t;

	if (v != NULL && vs_time_parse(v, &t) == 0)
		return t;
	for (size_t i = 0; i < vm->ntags; i++)
		if ((t = expires_in_text(vm->tags[i])) != 0)
			return t;
	if ((t = expires_in_text(vm->description)) != 0)
		return t;
	return expires_in_text(vm->comment);
}

/* ------------------------------------------------------------------ */
/* The inventory and its id index. */

void sim_inv_init(struct sim_inv *inv)
{
	memset(inv, 0, sizeof(*inv));
	pthread_mutex_init(&inv->lock, NULL);
}

void sim_inv_clear(struct sim_inv *inv)
{
	for (size_t i = 0; i < inv->n; i++)
		sim_vm_free(inv->vms[i]);
	free(inv->vms);
	free(inv->slots);
	inv->vms = NULL;
	inv->slots = NULL;
	inv->n = inv->live = inv->nslots = 0;
}

void sim_inv_release(struct sim_inv *inv)
{
	sim_inv_clear(inv);
	pthread_mutex_destroy(&inv->lock);
}

static uint64_t hash_id(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static void index_put(struct sim_vm **slots, size_t nslots, struct sim_vm *vm)
{
	size_t i = hash_id(vm->id) & (nslots - 1);

	while (slots[i] != NULL)
		i = (i + 1) & (nslots - 1);
	slots[i] = vm;
}

/* Rebuild the index for at least want entries at half load. */
static int index_rebuild(struct sim_inv *inv, size_t want)
{
	size_t n = 64;
	struct sim_vm **slots;

	while (n < want * 2)
		n *= 2;
	slots = calloc(n, sizeof(*slots));
	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < inv->n; i++)
		index_put(slots, n, inv->vms[i]);
	free(inv->slots);
	inv->slots = slots;
	inv->nslots = n;
	return 0;
}

struct sim_vm *sim_inv_find_any_nolock(struct sim_inv *inv, const char *id)
{
	size_t i;

	if (inv->nslots == 0 || id == NULL)
		return NULL;
	i = hash_id(id) & (inv->nslots - 1);
	while (inv->slots[i] != NULL) {
		if (strcmp(inv->slots[i]->id, id) == 0)
			return inv->slots[i];
		i = (i + 1) & (inv->nslots - 1);
	}
	return NULL;
}

struct sim_vm *sim_inv_find_nolock(struct sim_inv *inv, const char *id)
{
	struct sim_vm *vm = sim_inv_find_any_nolock(inv, id);

	return vm && !vm->gone ? vm : NULL;
}

int sim_inv_add_nolock(struct sim_inv *inv, struct sim_vm *vm)
{
	struct sim_vm **v;

	v = realloc(inv->vms, (inv->n + 1) * sizeof(*v));
	if (v == NULL) {
		sim_vm_free(vm);
		return -1;
	}
	inv->vms = v;
	vm->pos = inv->n;
	v[inv->n++] = vm;
	if (!vm->gone)
		inv->live++;
	if ((inv->n) * 2 > inv->nslots) {
		if (index_rebuild(inv, inv->n * 2) < 0) {
			inv->n--;
			if (!vm->gone)
				inv->live--;
			sim_vm_free(vm);
			return -1;
		}
	} else {
		index_put(inv->slots, inv->nslots, vm);
	}
	return 0;
}

static int cmp_listing(const void *a, const void *b)
{
	const struct sim_vm *x = *(struct sim_vm *const *)a;
	const struct sim_vm *y = *(struct sim_vm *const *)b;

	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

void sim_inv_sort_nolock(struct sim_inv *inv)
{
	if (inv->n > 1)
		qsort(inv->vms, inv->n, sizeof(*inv->vms), cmp_listing);
	for (size_t i = 0; i < inv->n; i++)
		inv->vms[i]->pos = i;
}

void sim_vm_remove_nolock(struct sim_inv *inv, struct sim_vm *vm)
{
	if (vm->gone)
		return;
	vm->gone = true;
	inv->live--;
}

/* ------------------------------------------------------------------ */
/* The delete lifecycle. */

enum sim_del sim_vm_delete_nolock(struct sim *sim, enum sim_platform p,
				  struct sim_vm *vm, int polls)
{
	struct sim_inv *inv = &sim->inv[p];

	if (polls < 0)
		polls = sim->opts.delete_polls;
	vm->del_time = vs_time_now();
	vm->updated = vm->del_time;
	vm->del_polls = polls;
	free(vm->fault_msg);
	vm->fault_msg = NULL;
	if (sim_fault_roll(sim, p, SIM_FAULT_DELETE_STUCK)) {
		vm->del = SIM_DEL_STUCK;
	} else if (sim_fault_roll(sim, p, SIM_FAULT_DELETE_ERROR)) {
		vm->del = SIM_DEL_FAILING;
		if (polls == 0)
			sim_vm_observe_nolock(sim, inv, vm);
	} else {
		vm->del = SIM_DEL_PENDING;
		if (polls == 0)
			sim_vm_remove_nolock(inv, vm);
	}
	return vm->del;
}

bool sim_vm_observe_nolock(struct sim *sim, struct sim_inv *inv,
			   struct sim_vm *vm)
{
	(void)sim;
	if (vm->gone)
		return false;
	if (vm->trans_polls > 0 && --vm->trans_polls == 0) {
		memcpy(vm->state, vm->trans_to, sizeof(vm->state));
		vm->updated = vs_time_now();
	}
	switch (vm->del) {
	case SIM_DEL_PENDING:
		if (vm->del_polls <= 0) {
			sim_vm_remove_nolock(inv, vm);
			return false;
		}
		vm->del_polls--;
		break;
	case SIM_DEL_FAILING:
		if (vm->del_polls <= 0) {
			vm->del = SIM_DEL_FAILED;
			vm->fault_time = vs_time_now();
			vm->updated = vm->fault_time;
			sim_vm_set_str(&vm->fault_msg,
				       "Failed to delete the instance: "
				       "injected delete-error fault");
		} else {
			vm->del_polls--;
		}
		break;
	default:
		break;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* The inventory file. */

static const char *const default_state[SIM_NPLATFORMS] = {"POWERED_ON", "up",
							  "ACTIVE"};

/* A YAML node as JSON: plain scalars that look like booleans, null or
 * integers become those; everything else is a string. */
static json_t *yaml_to_json(yaml_document_t *doc, yaml_node_t *node, int depth)
{
	json_t *j;

	if (node == NULL || depth > 64)
		return NULL;
	switch (node->type) {
	case YAML_SCALAR_NODE: {
		const char *s = (const char *)node->data.scalar.value;
		char *end;
		long long v;

		if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
			return json_string(s);
		if (!strcmp(s, "true") || !strcmp(s, "yes"))
			return json_true();
		if (!strcmp(s, "false") || !strcmp(s, "no"))
			return json_false();
		if (!strcmp(s, "null") || !strcmp(s, "~") || !*s)
			return json_null();
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0' && end != s)
			return json_integer(v);
		return json_string(s);
	}
	case YAML_SEQUENCE_NODE:
		j = json_array();
		for (yaml_node_item_t *it = node->data.sequence.items.start;
		     j && it < node->data.sequence.items.top; it++) {
			json_t *v = yaml_to_json(
				doc, yaml_document_get_node(doc, *it),
				depth + 1);
			if (v == NULL || json_array_append_new(j, v) < 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	case YAML_MAPPING_NODE:
		j = json_object();
		for (yaml_node_pair_t *pr = node->data.mapping.pairs.start;
		     j && pr < node->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = yaml_document_get_node(doc, pr->key);
			json_t *v;

			if (k == NULL || k->type != YAML_SCALAR_NODE) {
				json_decref(j);
				return NULL;
			}
			v = yaml_to_json(doc,
					 yaml_document_get_node(doc, pr->value),
					 depth + 1);
			if (v == NULL ||
			    json_object_set_new(
				    j, (const char *)k->data.scalar.value, v) <
				    0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	default:
		return NULL;
	}
}

static json_t *load_yaml(const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "rb");
	yaml_parser_t parser;
	yaml_document_t doc;
	json_t *j = NULL;

	if (f == NULL) {
		snprintf(err, errsz, "cannot open '%s'", path);
		return NULL;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errsz, "%s:%zu:%zu: %s", path,
			 parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "invalid YAML");
	} else {
		j = yaml_to_json(&doc, yaml_document_get_root_node(&doc), 0);
		if (j == NULL)
			snprintf(err, errsz, "%s: unsupported YAML", path);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return j;
}

/* The first of several keys present in o, or NULL. */
static json_t *get_any(json_t *o, const char *const *keys)
{
	for (; *keys; keys++) {
		json_t *v = json_object_get(o, *keys);
		if (v != NULL && !json_is_null(v))
			return v;
	}
	return NULL;
}

static int as_bool(json_t *v)
{
	if (v == NULL)
		return 0;
	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_string(v))
		return !strcmp(json_string_value(v), "true");
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	return 0;
}

/* created / expires: RFC 3339 string, or a number of Unix seconds. */
static int as_time(json_t *v, int64_t *t)
{
	if (json_is_integer(v)) {
		*t = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v))
		return vs_time_parse(json_string_value(v), t);
	return -1;
}

static int load_vm(struct sim *sim, enum sim_platform p, json_t *o,
		   struct sim_rng *r, char *err, size_t errsz)
{
	static const char *const k_state[] = {"status", "power_state", "state",
					      NULL};
	static const char *const k_lock[] = {"locked", "delete_protected",
					     NULL};
	const char *name = json_string_value(json_object_get(o, "name"));
	struct sim_vm *vm;
	json_t *v;
	int64_t t;
	const char *key;

	if (!json_is_object(o) || name == NULL) {
		snprintf(err, errsz, "%s: every VM needs a \"name\"",
			 sim_platform_name(p));
		return -1;
	}
	if ((vm = sim_vm_new(name)) == NULL)
		goto nomem;
	if ((v = json_object_get(o, "id")) != NULL && json_is_string(v))
		snprintf(vm->id, sizeof(vm->id), "%s", json_string_value(v));
	else if (p == SIM_VMWARE)
		snprintf(vm->id, sizeof(vm->id), "vm-%u",
			 (unsigned)(1000 + sim->inv[p].n));
	else
		sim_rng_uuid(r, vm->id);
	if (sim_inv_find_any_nolock(&sim->inv[p], vm->id) != NULL) {
		snprintf(err, errsz, "%s: duplicate id '%s'",
			 sim_platform_name(p), vm->id);
		sim_vm_free(vm);
		return -1;
	}
	vm->created = vs_time_now() - 86400;
	if ((v = json_object_get(o, "created")) != NULL) {
		if (json_is_null(v)) {
			vm->created = 0;
		} else if (as_time(v, &vm->created) < 0) {
			snprintf(err, errsz, "%s: VM '%s': bad \"created\"",
				 sim_platform_name(p), name);
			sim_vm_free(vm);
			return -1;
		}
	}
	vm->updated = vm->created ? vm->created : vs_time_now();
	v = get_any(o, k_state);
	snprintf(vm->state, sizeof(vm->state), "%s",
		 json_is_string(v) ? json_string_value(v) : default_state[p]);
	vm->locked = as_bool(get_any(o, k_lock));
	vm->is_template = as_bool(json_object_get(o, "template"));
	vm->config_unavailable =
		as_bool(json_object_get(o, "config_unavailable"));
	v = json_object_get(o, "cpu_count");
	vm->cpu_count = json_is_integer(v) ? (int)json_integer_value(v) : 2;
	v = json_object_get(o, "memory_mib");
	vm->memory_mib = json_is_integer(v) ? json_integer_value(v) : 4096;
	if (sim_vm_set_str(&vm->folder, json_string_value(json_object_get(
						o, "folder"))) < 0 ||
	    sim_vm_set_str(&vm->cluster, json_string_value(json_object_get(
						 o, "cluster"))) < 0 ||
	    sim_vm_set_str(&vm->description, json_string_value(json_object_get(
						     o, "description"))) < 0 ||
	    sim_vm_set_str(&vm->comment, json_string_value(json_object_get(
						 o, "comment"))) < 0)
		goto nomem_vm;
	if (p == SIM_VMWARE && vm->folder == NULL &&
	    sim_vm_set_str(&vm->folder, "group-v1001") < 0)
		goto nomem_vm;
	if ((v = json_object_get(o, "tags")) != NULL) {
		size_t i;
		json_t *tag;

		json_array_foreach(v, i, tag)
		{
			if (json_is_string(tag) &&
			    sim_vm_add_tag(vm, json_string_value(tag)) < 0)
				goto nomem_vm;
		}
	}
	if ((v = json_object_get(o, "metadata")) != NULL) {
		json_t *mv;

		json_object_foreach(v, key, mv)
		{
			char num[32];
			const char *s = json_string_value(mv);

			if (s == NULL && json_is_integer(mv)) {
				snprintf(num, sizeof(num), "%lld",
					 (long long)json_integer_value(mv));
				s = num;
			}
			if (s == NULL)
				s = json_is_true(mv) ? "true" : "false";
			if (sim_vm_set_meta(vm, key, s) < 0)
				goto nomem_vm;
		}
	}
	/* Conveniences: "keep" and "expires" become the marker each
	 * platform uses (a tag; osp metadata for the expiry). */
	if (as_bool(json_object_get(o, "keep")) && !sim_vm_marked_keep(vm) &&
	    sim_vm_add_tag(vm, SIM_MARK_KEEP) < 0)
		goto nomem_vm;
	if ((v = json_object_get(o, "expires")) != NULL && !json_is_null(v)) {
		char stamp[40], tag[80];

		if (as_time(v, &t) < 0) {
			snprintf(err, errsz, "%s: VM '%s': bad \"expires\"",
				 sim_platform_name(p), name);
			sim_vm_free(vm);
			return -1;
		}
		sim_time_str(t, stamp, sizeof(stamp));
		snprintf(tag, sizeof(tag), "%s=%s", SIM_MARK_EXPIRES, stamp);
		if ((p == SIM_OSP ? sim_vm_set_meta(vm, SIM_MARK_EXPIRES, stamp)
				  : sim_vm_add_tag(vm, tag)) < 0)
			goto nomem_vm;
	}
	if ((v = json_object_get(o, "fault")) != NULL && json_is_string(v)) {
		if (sim_vm_set_str(&vm->fault_msg, json_string_value(v)) < 0)
			goto nomem_vm;
		vm->fault_time = vm->updated;
	}
	if (sim_inv_add_nolock(&sim->inv[p], vm) < 0)
		goto nomem;
	return 0;
nomem_vm:
	sim_vm_free(vm);
nomem:
	snprintf(err, errsz, "out of memory");
	return -1;
}

int sim_inventory_load(struct sim *sim, const char *path, struct sim_rng *r,
		       char *err, size_t errsz)
{
	size_t len = strlen(path);
	json_t *root;
	json_error_t jerr;
	int rc = 0;

	if ((len > 5 && !strcmp(path + len - 5, ".yaml")) ||
	    (len > 4 && !strcmp(path + len - 4, ".yml"))) {
		if ((root = load_yaml(path, err, errsz)) == NULL)
			return -1;
	} else if ((root = json_load_file(path, JSON_REJECT_DUPLICATES,
					  &jerr)) == NULL) {
		snprintf(err, errsz, "%s:%d:%d: %s", path, jerr.line,
			 jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errsz,
			 "%s: expected an object with vmware, rhv "
			 "and/or osp lists",
			 path);
		json_decref(root);
		return -1;
	}
	for (int p = 0; p < SIM_NPLATFORMS && rc == 0; p++) {
		json_t *list = json_object_get(root, sim_platform_name(p));
		size_t i;
		json_t *o;

		if (list == NULL || json_is_null(list))
			continue;
		if (!json_is_array(list)) {
			snprintf(err, errsz, "%s: \"%s\" must be a list", path,
				 sim_platform_name(p));
			rc = -1;
			break;
		}
		pthread_mutex_lock(&sim->inv[p].lock);
		json_array_foreach(list, i, o)
		{
			if ((rc = load_vm(sim, p, o, r, err, errsz)) < 0)
				break;
		}
		sim_inv_sort_nolock(&sim->inv[p]);
		pthread_mutex_unlock(&sim->inv[p].lock);
	}
	json_decref(root);
	return rc;
}
