/*
 * sim_vmware.c - the vSphere half of vmsweep-sim.
 *
 * Serves the vSphere Automation REST API in both generations: the
 * modern /api (bare JSON bodies, 201/204 statuses, errors as
 * {"error_type","messages"}) and the legacy /rest of 6.5-7.x (every
 * success wrapped as {"value": ...}, 200 everywhere, errors as
 * {"type":"com.vmware.vapi.std.errors.<snake>","value":{...}}, most of
 * them 400).  It also serves the small part of the VI/JSON API (8.0U1+)
 * that carries a VM's creation time, because REST has none.
 *
 * --vsphere-legacy turns the simulator into a 6.7-era vCenter: only
 * /rest answers; /api and /sdk give the 404 a 6.7 front end gives.
 *
 * Deletes are synchronous on vSphere, so a delete passes 0 polls to the
 * core: the VM is gone when DELETE returns.  The injected delete faults
 * render as a vCenter task failure would: delete-error answers 500
 * ERROR and leaves the VM in place (a retry rolls again); delete-stuck
 * answers RESOURCE_BUSY (500 on /api, 400 on /rest) on this and every
 * later power or delete call of that VM, which never goes away.
 *
 * CIS tags are derived from the VM's tag names, never stored: a tag's
 * id is a hash of its name, its category a hash of the part before the
 * first ':' (so "vmsweep:keep" lives in category "vmsweep").
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "timeutil.h"

#define VMW_SESSION_HDR "vmware-api-session-id"

/* ------------------------------------------------------------------ */
/* Small helpers. */

static bool vmw_is_legacy_path(const struct sim_req *req)
{
	return strncmp(req->path, "/rest/", 6) == 0 ||
	       strcmp(req->path, "/rest") == 0;
}

/* FNV-1a, so derived ids are stable across runs and seeds. */
static uint64_t vmw_hash(const char *s, uint64_t seed)
{
	uint64_t h = 1469598103934665603ULL ^ seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* A UUID-shaped string derived from s into out[37]. */
static void vmw_uuid_of(const char *s, uint64_t seed, char out[37])
{
	uint64_t a = vmw_hash(s, seed),
		 b = vmw_hash(s, seed ^ 0x9e3779b97f4a7c15ULL);

	snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
		 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
		 (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
		 (unsigned long long)(b & 0xffffffffffffULL));
}

/*
 * The host a VM runs on: one of eight, derived from its id, so a client
 * that must split a folder further can partition by host too.
 */
static void vmw_host_of(const struct sim_vm *vm, char *out, size_t outsz)
{
	snprintf(out, outsz, "host-%u",
		 (unsigned)(1001 + vmw_hash(vm->id, 5) % 8));
}

/* ------------------------------------------------------------------ */
/* Errors, both generations. */

struct vmw_err_kind {
	const char *type; /* "NOT_FOUND" */
	int status;	  /* /api status; /rest maps it below */
};

static const struct vmw_err_kind vmw_err_kinds[] = {
	{"ERROR", 500},
	{"NOT_FOUND", 404},
	{"UNAUTHENTICATED", 401},
	{"UNAUTHORIZED", 403},
	{"INVALID_ARGUMENT", 400},
	{"INVALID_REQUEST", 400},
	{"ALREADY_IN_DESIRED_STATE", 400},
	{"NOT_ALLOWED_IN_CURRENT_STATE", 400},
	{"RESOURCE_BUSY", 500},
	{"UNABLE_TO_ALLOCATE_RESOURCE", 500},
	{"SERVICE_UNAVAILABLE", 503},
	{"OPERATION_NOT_FOUND", 404},
};

/*
 * Render a vAPI error.  /rest reports everything but 401, 403, 404,
 * 503 and a plain ERROR as 400, as the 6.x endpoint does.  args (may be
 * NULL) is stolen.  The legacy 401 body has no value.error_type, as the
 * envelopes seen from real 6.x servers do not.
 */
static void vmw_error(struct sim_req *req, struct sim_resp *resp,
		      const char *type, const char *id, const char *msg,
		      json_t *args)
{
	bool legacy = vmw_is_legacy_path(req);
	int status = 500;
	char snake[64];
	json_t *inner, *messages;
	size_t i;

	for (i = 0; i < sizeof(vmw_err_kinds) / sizeof(vmw_err_kinds[0]); i++)
		if (strcmp(vmw_err_kinds[i].type, type) == 0)
			status = vmw_err_kinds[i].status;
	if (args == NULL)
		args = json_array();
	messages = json_pack("[{s:o,s:s,s:s}]", "args", args, "default_message",
			     msg, "id", id);
	if (legacy) {
		if (status != 401 && status != 403 && status != 404 &&
		    status != 503 && strcmp(type, "ERROR") != 0)
			status = 400;
		for (i = 0; type[i] && i + 1 < sizeof(snake); i++)
			snake[i] = (char)(type[i] >= 'A' && type[i] <= 'Z'
						  ? type[i] - 'A' + 'a'
						  : type[i]);
		snake[i] = '\0';
		if (status == 401)
			inner = json_pack("{s:o}", "messages", messages);
		else
			inner = json_pack("{s:s,s:o}", "error_type", type,
					  "messages", messages);
		char full[128];
		snprintf(full, sizeof(full), "com.vmware.vapi.std.errors.%s",
			 snake);
		sim_resp_json(
			resp, status,
			json_pack("{s:s,s:o}", "type", full, "value", inner));
	} else {
		sim_resp_json(resp, status,
			      json_pack("{s:s,s:o}", "error_type", type,
					"messages", messages));
	}
	if (status == 401)
		sim_resp_header(resp, "WWW-Authenticate",
				"Basic realm=\"VAPI endpoint\"");
}

static void vmw_not_found(struct sim_req *req, struct sim_resp *resp,
			  const char *vmid)
{
	char msg[160];

	snprintf(msg, sizeof(msg),
		 "Virtual machine with identifier '%s' does not exist.", vmid);
	vmw_error(req, resp, "NOT_FOUND", "com.vmware.api.vcenter.vm.not_found",
		  msg, json_pack("[s]", vmid));
}

static void vmw_http_not_found(struct sim_req *req, struct sim_resp *resp)
{
	vmw_error(req, resp, "NOT_FOUND", "com.vmware.vapi.rest.httpNotFound",
		  "Not found.", NULL);
}

static void vmw_busy(struct sim_req *req, struct sim_resp *resp)
{
	vmw_error(req, resp, "RESOURCE_BUSY",
		  "com.vmware.api.vcenter.vm.resource_busy",
		  "Another task is in progress.", NULL);
}

/* The platform's renderer for the core: injected faults, unknown routes,
 * oversized bodies.  A proxy in front of vCenter answers 502 (an HTML
 * page) and 429 (plain text) itself. */
static void vmw_render_error(struct sim_req *req, struct sim_resp *resp,
			     int status, const char *msg, unsigned retry_after)
{
	static const char bad_gw[] =
		"<html><head><title>502 Bad Gateway</title></head><body>"
		"<h1>502 Bad Gateway</h1></body></html>\n";
	static const char too_many[] = "Too Many Requests\n";

	(void)retry_after;
	switch (status) {
	case 404:
		vmw_http_not_found(req, resp);
		break;
	case 405:
		vmw_error(req, resp, "OPERATION_NOT_FOUND",
			  "com.vmware.vapi.rest.httpMethodNotAllowed", msg,
			  NULL);
		resp->status = 405;
		break;
	case 413:
		vmw_error(req, resp, "INVALID_REQUEST",
			  "com.vmware.vapi.rest.requestTooLarge", msg, NULL);
		resp->status = 413;
		break;
	case 502:
		sim_resp_body(resp, 502, "text/html", bad_gw,
			      sizeof(bad_gw) - 1);
		break;
	case 429:
		sim_resp_body(resp, 429, "text/plain", too_many,
			      sizeof(too_many) - 1);
		break;
	case 503:
		vmw_error(req, resp, "SERVICE_UNAVAILABLE",
			  "com.vmware.vapi.endpoint.unavailable", msg, NULL);
		break;
	default:
		vmw_error(req, resp, "ERROR", "com.vmware.vapi.endpoint.error",
			  msg, NULL);
		resp->status = status;
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Replies and sessions. */

/* Send value (stolen; NULL for none): bare with api_status on /api,
 * wrapped in {"value": ...} with 200 on /rest. */
static void vmw_reply(struct sim_req *req, struct sim_resp *resp,
		      int api_status, json_t *value)
{
	if (!vmw_is_legacy_path(req)) {
		if (value == NULL)
			sim_resp_empty(resp, api_status);
		else
			sim_resp_json(resp, api_status, value);
	} else if (value == NULL) {
		sim_resp_empty(resp, 200);
	} else {
		sim_resp_json(resp, 200, json_pack("{s:o}", "value", value));
	}
}

static void vmw_unauthenticated(struct sim_req *req, struct sim_resp *resp)
{
	vmw_error(req, resp, "UNAUTHENTICATED",
		  "com.vmware.vapi.endpoint.method.authentication.required",
		  "Authentication required.", NULL);
}

/* Check the session header; on failure the 401 is already rendered. */
static int vmw_auth(struct sim_req *req, struct sim_resp *resp,
		    struct sim_session_info *info)
{
	const char *tok = sim_req_header(req, VMW_SESSION_HDR);

	if (tok == NULL || sim_session_use(req->sim, SIM_VMWARE, tok, info) !=
				   SIM_SESSION_OK) {
		vmw_unauthenticated(req, resp);
		return -1;
	}
	return 0;
}

/* "admin@vsphere.local" or "admin" -> "VSPHERE.LOCAL\admin". */
static void vmw_principal(const char *user, char *out, size_t outsz)
{
	const char *at = strchr(user, '@');
	char dom[64] = "VSPHERE.LOCAL";
	size_t i;

	if (at != NULL) {
		for (i = 0; at[1 + i] && i + 1 < sizeof(dom); i++)
			dom[i] = (char)(at[1 + i] >= 'a' && at[1 + i] <= 'z'
						? at[1 + i] - 'a' + 'A'
						: at[1 + i]);
		dom[i] = '\0';
		snprintf(out, outsz, "%s\\%.*s", dom, (int)(at - user), user);
	} else {
		snprintf(out, outsz, "%s\\%s", dom, user);
	}
}

static void vmw_session_create(struct sim_req *req, struct sim_resp *resp)
{
	char user[128], tok[SIM_TOKEN_MAX];

	if (!sim_check_basic(req->sim, sim_req_header(req, "Authorization"),
			     user, sizeof(user))) {
		vmw_unauthenticated(req, resp);
		return;
	}
	sim_session_new(req->sim, SIM_VMWARE, user, NULL, tok);
	vmw_reply(req, resp, 201, json_string(tok));
}

static json_t *vmw_session_json(const struct sim_session_info *info)
{
	char who[160], created[40], last[40];

	vmw_principal(info->user, who, sizeof(who));
	vs_time_format_ms(created, sizeof(created), info->created * 1000);
	vs_time_format_ms(last, sizeof(last), info->last * 1000);
	return json_pack("{s:s,s:s,s:s}", "user", who, "created_time", created,
			 "last_accessed_time", last);
}

static void vmw_session_get(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_session_info info;

	if (vmw_auth(req, resp, &info) < 0)
		return;
	vmw_reply(req, resp, 200, vmw_session_json(&info));
}

/* Legacy: POST /rest/com/vmware/cis/session is create, or get with
 * ?~action=get. */
static void vmw_session_post_legacy(struct sim_req *req, struct sim_resp *resp)
{
	const char *action = sim_req_query(req, "~action");

	if (action == NULL) {
		vmw_session_create(req, resp);
	} else if (strcmp(action, "get") == 0) {
		vmw_session_get(req, resp);
	} else {
		vmw_error(req, resp, "OPERATION_NOT_FOUND",
			  "com.vmware.vapi.rest.unknownAction",
			  "Unknown action.", NULL);
	}
}

static void vmw_session_delete(struct sim_req *req, struct sim_resp *resp)
{
	const char *tok = sim_req_header(req, VMW_SESSION_HDR);

	if (vmw_auth(req, resp, NULL) < 0)
		return;
	sim_session_end(req->sim, SIM_VMWARE, tok);
	vmw_reply(req, resp, 204, NULL);
}

/* ------------------------------------------------------------------ */
/* VMs. */

static bool vmw_valid_power_state(const char *s)
{
	return strcmp(s, "POWERED_ON") == 0 || strcmp(s, "POWERED_OFF") == 0 ||
	       strcmp(s, "SUSPENDED") == 0;
}

/*
 * Whether a query key names the list filter kind: "names" on /api,
 * "filter.names" (or the indexed "filter.names.1") on /rest.
 */
static bool vmw_filter_key(const char *key, bool legacy, const char *kind)
{
	size_t kl = strlen(kind);

	if (!legacy)
		return strcmp(key, kind) == 0;
	if (strncmp(key, "filter.", 7) != 0)
		return false;
	key += 7;
	if (strncmp(key, kind, kl) != 0)
		return false;
	key += kl;
	if (*key == '\0')
		return true;
	if (*key++ != '.' || *key == '\0')
		return false;
	return strspn(key, "0123456789") == strlen(key);
}

/* A filter with no non-empty value matches anything; otherwise any one
 * of its values must equal value (OR within a filter). */
static bool vmw_filter_ok(const struct sim_req *req, bool legacy,
			  const char *kind, const char *value)
{
	bool seen = false;

	for (size_t i = 0; i < req->nquery; i++) {
		if (req->query[i].value[0] == '\0' ||
		    !vmw_filter_key(req->query[i].key, legacy, kind))
			continue;
		seen = true;
		if (value != NULL && strcmp(req->query[i].value, value) == 0)
			return true;
	}
	return !seen;
}

static const char *vmw_bad_filter_value(const struct sim_req *req, bool legacy,
					const char *kind,
					bool (*valid)(const char *))
{
	for (size_t i = 0; i < req->nquery; i++)
		if (req->query[i].value[0] != '\0' &&
		    vmw_filter_key(req->query[i].key, legacy, kind) &&
		    !valid(req->query[i].value))
			return req->query[i].value;
	return NULL;
}

static json_t *vmw_summary(const struct sim_vm *vm)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "vm", vm->id, "name", vm->name,
			      "power_state", vm->state);

	if (o != NULL && !vm->config_unavailable) {
		json_object_set_new(o, "cpu_count",
				    json_integer(vm->cpu_count));
		json_object_set_new(o, "memory_size_MiB",
				    json_integer(vm->memory_mib));
	}
	return o;
}

static void vmw_vm_list(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;
	struct sim_inv *inv = &sim->inv[SIM_VMWARE];
	bool legacy = vmw_is_legacy_path(req);
	unsigned cap = sim->opts.vsphere_cap;
	const char *bad;
	json_t *list;
	size_t n = 0;

	if (vmw_auth(req, resp, NULL) < 0)
		return;
	bad = vmw_bad_filter_value(req, legacy, "power_states",
				   vmw_valid_power_state);
	if (bad != NULL) {
		char msg[160];

		snprintf(msg, sizeof(msg),
			 "Invalid value '%.64s' for power_states.", bad);
		vmw_error(req, resp, "INVALID_ARGUMENT",
			  "vapi.bindings.typeconverter.invalid.enum", msg,
			  NULL);
		return;
	}
	list = json_array();
	pthread_mutex_lock(&inv->lock);
	for (size_t i = 0; i < inv->n && list != NULL; i++) {
		struct sim_vm *vm = inv->vms[i];
		char host[32];

		vmw_host_of(vm, host, sizeof(host));
		if (vm->gone || vm->is_template ||
		    !vmw_filter_ok(req, legacy, "hosts", host) ||
		    !vmw_filter_ok(req, legacy, "vms", vm->id) ||
		    !vmw_filter_ok(req, legacy, "names", vm->name) ||
		    !vmw_filter_ok(req, legacy, "folders", vm->folder) ||
		    !vmw_filter_ok(req, legacy, "power_states", vm->state))
			continue;
		if (!sim_vm_observe_nolock(sim, inv, vm))
			continue;
		/* Counting on past the cap would only waste time: the
		 * answer is the error either way. */
		if (cap > 0 && ++n > cap) {
			json_decref(list);
			list = NULL;
			break;
		}
		json_array_append_new(list, vmw_summary(vm));
	}
	pthread_mutex_unlock(&inv->lock);
	if (list == NULL && cap > 0 && n > cap) {
		vmw_error(req, resp, "UNABLE_TO_ALLOCATE_RESOURCE",
			  "com.vmware.api.vcenter.vm.too_many_matches",
			  "Too many virtual machines. Add more filter criteria "
			  "to reduce the number.",
			  NULL);
		return;
	}
	if (list == NULL) {
		vmw_error(req, resp, "ERROR", "com.vmware.vapi.endpoint.error",
			  "Out of memory.", NULL);
		return;
	}
	vmw_reply(req, resp, 200, list);
}

/*
 * The VM named by the {vm} capture, observed once; NULL (with the 404
 * rendered) when there is none.  Call with the inventory lock held.
 */
static struct sim_vm *vmw_lookup_nolock(struct sim_req *req,
					struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_VMWARE];
	const char *id = sim_req_param(req, "vm");
	struct sim_vm *vm = id ? sim_inv_find_nolock(inv, id) : NULL;

	if (vm == NULL || !sim_vm_observe_nolock(req->sim, inv, vm)) {
		vmw_not_found(req, resp, id ? id : "");
		return NULL;
	}
	return vm;
}

static const char *vmw_guest_os(const struct sim_vm *vm)
{
	static const char *const os[] = {"UBUNTU_64", "RHEL_8_64",
					 "CENTOS_7_64", "WINDOWS_9_SERVER_64",
					 "DEBIAN_11_64"};

	return os[vmw_hash(vm->name, 7) % (sizeof(os) / sizeof(os[0]))];
}

static json_t *vmw_vm_info(const struct sim_vm *vm)
{
	char bios[37], inst[37];

	vmw_uuid_of(vm->id, 1, bios);
	vmw_uuid_of(vm->id, 2, inst);
	return json_pack(
		"{s:s,s:s,s:{s:s,s:s,s:s},s:s,s:b,"
		"s:{s:s,s:s,s:s},"
		"s:{s:s,s:i,s:b,s:i,s:b},s:[],"
		"s:{s:i,s:i,s:b,s:b},s:{s:I,s:b},"
		"s:{},s:{},s:{},s:{},s:{},s:{},s:{},s:{},s:{}}",
		"guest_OS", vmw_guest_os(vm), "name", vm->name, "identity",
		"name", vm->name, "bios_uuid", bios, "instance_uuid", inst,
		"power_state", vm->state, "instant_clone_frozen", 0, "hardware",
		"version", "VMX_19", "upgrade_policy", "NEVER",
		"upgrade_status", "NONE", "boot", "type", "BIOS", "delay", 0,
		"retry", 0, "retry_delay", 10000, "enter_setup_mode", 0,
		"boot_devices", "cpu", "count", vm->cpu_count,
		"cores_per_socket", 1, "hot_add_enabled", 0,
		"hot_remove_enabled", 0, "memory", "size_MiB",
		(json_int_t)vm->memory_mib, "hot_add_enabled", 0, "disks",
		"nics", "cdroms", "floppies", "parallel_ports", "serial_ports",
		"sata_adapters", "scsi_adapters", "nvme_adapters");
}

static void vmw_vm_get(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_VMWARE];
	struct sim_vm *vm;
	json_t *info = NULL;

	if (vmw_auth(req, resp, NULL) < 0)
		return;
	pthread_mutex_lock(&inv->lock);
	if ((vm = vmw_lookup_nolock(req, resp)) != NULL)
		info = vmw_vm_info(vm);
	pthread_mutex_unlock(&inv->lock);
	if (vm != NULL)
		vmw_reply(req, resp, 200, info);
}

static void vmw_power_get(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_VMWARE];
	struct sim_vm *vm;
	json_t *o = NULL;

	if (vmw_auth(req, resp, NULL) < 0)
		return;
	pthread_mutex_lock(&inv->lock);
	if ((vm = vmw_lookup_nolock(req, resp)) != NULL) {
		o = json_pack("{s:s}", "state", vm->state);
		if (strcmp(vm->state, "POWERED_OFF") == 0)
			json_object_set_new(o, "clean_power_off", json_true());
	}
	pthread_mutex_unlock(&inv->lock);
	if (vm != NULL)
		vmw_reply(req, resp, 200, o);
}

/*
 * Apply a power action to vm; returns NULL on success or the error
 * type to render (*id and *msg set).  stop works from on and from
 * suspended, start from off and suspended, suspend and reset only from
 * on.
 */
static const char *vmw_power_apply_nolock(struct sim_vm *vm, const char *action,
					  const char **id, const char **msg)
{
	bool on = strcmp(vm->state, "POWERED_ON") == 0;
	bool off = strcmp(vm->state, "POWERED_OFF") == 0;
	const char *to;

	if (vm->del == SIM_DEL_STUCK) {
		*id = "com.vmware.api.vcenter.vm.resource_busy";
		*msg = "Another task is in progress.";
		return "RESOURCE_BUSY";
	}
	if (strcmp(action, "stop") == 0) {
		if (off) {
			*id = "com.vmware.api.vcenter.vm.power."
			      "already_powered_off";
			*msg = "Virtual machine is already powered off.";
			return "ALREADY_IN_DESIRED_STATE";
		}
		to = "POWERED_OFF";
	} else if (strcmp(action, "start") == 0) {
		if (on) {
			*id = "com.vmware.api.vcenter.vm.power."
			      "already_powered_on";
			*msg = "Virtual machine is already powered on.";
			return "ALREADY_IN_DESIRED_STATE";
		}
		to = "POWERED_ON";
	} else if (strcmp(action, "suspend") == 0 ||
		   strcmp(action, "reset") == 0) {
		if (!on && !off && action[0] == 's') {
			*id = "com.vmware.api.vcenter.vm.power."
			      "already_suspended";
			*msg = "Virtual machine is already suspended.";
			return "ALREADY_IN_DESIRED_STATE";
		}
		if (!on) {
			*id = "vmsg.InvalidPowerState.summary";
			*msg = "The operation is not allowed in the current "
			       "state.";
			return "NOT_ALLOWED_IN_CURRENT_STATE";
		}
		to = action[0] == 's' ? "SUSPENDED" : "POWERED_ON";
	} else {
		*id = "com.vmware.vapi.rest.unknownAction";
		*msg = "Unknown power action.";
		return "INVALID_ARGUMENT";
	}
	snprintf(vm->state, sizeof(vm->state), "%s", to);
	vm->updated = vs_time_now();
	return NULL;
}

static void vmw_power_action(struct sim_req *req, struct sim_resp *resp,
			     const char *action)
{
	struct sim_inv *inv = &req->sim->inv[SIM_VMWARE];
	struct sim_vm *vm;
	const char *type = NULL, *id = NULL, *msg = NULL;

	if (vmw_auth(req, resp, NULL) < 0)
		return;
	if (action == NULL) {
		vmw_error(req, resp, "INVALID_ARGUMENT",
			  "com.vmware.vapi.rest.missingAction",
			  "The action parameter is required.", NULL);
		return;
	}
	pthread_mutex_lock(&inv->lock);
	if ((vm = vmw_lookup_nolock(req, resp)) != NULL)
		type = vmw_power_apply_nolock(vm, action, &id, &msg);
	pthread_mutex_unlock(&inv->lock);
	if (vm == NULL)
		return;
	if (type != NULL)
		vmw_error(req, resp, type, id, msg, NULL);
	else
		vmw_reply(req, resp, 204, NULL);
}

/* POST /api/vcenter/vm/{vm}/power?action=stop */
static void vmw_power_post(struct sim_req *req, struct sim_resp *resp)
{
	vmw_power_action(req, resp, sim_req_query(req, "action"));
}

/* POST /rest/vcenter/vm/{vm}/power/{action} */
static void vmw_power_post_legacy(struct sim_req *req, struct sim_resp *resp)
{
	vmw_power_action(req, resp, sim_req_param(req, "action"));
}

static void vmw_vm_delete(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;
	struct sim_inv *inv = &sim->inv[SIM_VMWARE];
	struct sim_vm *vm;
	enum sim_del outcome = SIM_DEL_NONE;
	bool running = false;
	char fault[200] = "";

	if (vmw_auth(req, resp, NULL) < 0)
		return;
	pthread_mutex_lock(&inv->lock);
	if ((vm = vmw_lookup_nolock(req, resp)) != NULL) {
		if (vm->del == SIM_DEL_STUCK)
			outcome = SIM_DEL_STUCK;
		else if (strcmp(vm->state, "POWERED_ON") == 0)
			running = true;
		else
			outcome = sim_vm_delete_nolock(sim, SIM_VMWARE, vm, 0);
		if (vm->fault_msg != NULL)
			snprintf(fault, sizeof(fault), "%s", vm->fault_msg);
	}
	pthread_mutex_unlock(&inv->lock);
	if (vm == NULL)
		return;
	if (running)
		vmw_error(req, resp, "NOT_ALLOWED_IN_CURRENT_STATE",
			  "vmsg.InvalidPowerState.summary",
			  "The operation is not allowed in the current state.",
			  NULL);
	else if (outcome == SIM_DEL_STUCK)
		vmw_busy(req, resp);
	else if (outcome == SIM_DEL_FAILED || outcome == SIM_DEL_FAILING)
		vmw_error(req, resp, "ERROR",
			  "com.vmware.api.vcenter.vm.delete_failed",
			  fault[0] ? fault
				   : "The virtual machine could not "
				     "be deleted.",
			  NULL);
	else
		vmw_reply(req, resp, 204, NULL);
}

/* ------------------------------------------------------------------ */
/* Folders: derived from the VMs' folder ids. */

static const char *vmw_folder_name(const char *id, char *buf, size_t bufsz)
{
	static const struct {
		const char *id, *name;
	} known[] = {{"group-v1001", "ci"},
		     {"group-v1002", "jenkins"},
		     {"group-v1003", "dev"},
		     {"group-v1004", "infra"}};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].id, id) == 0)
			return known[i].name;
	snprintf(buf, bufsz, "%s", id);
	return buf;
}

static int vmw_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void vmw_folder_list(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_VMWARE];
	bool legacy = vmw_is_legacy_path(req);
	const char *type = NULL;
	char **ids = NULL;
	size_t nids = 0;
	json_t *list = json_array();

	if (vmw_auth(req, resp, NULL) < 0) {
		json_decref(list);
		return;
	}
	for (size_t i = 0; i < req->nquery; i++)
		if (vmw_filter_key(req->query[i].key, legacy, "type") &&
		    req->query[i].value[0] != '\0')
			type = req->query[i].value;
	if (type != NULL && strcmp(type, "VIRTUAL_MACHINE") != 0 &&
	    strcmp(type, "DATACENTER") != 0 && strcmp(type, "DATASTORE") != 0 &&
	    strcmp(type, "HOST") != 0 && strcmp(type, "NETWORK") != 0) {
		json_decref(list);
		vmw_error(req, resp, "INVALID_ARGUMENT",
			  "vapi.bindings.typeconverter.invalid.enum",
			  "Invalid value for type.", NULL);
		return;
	}
	/* Only VM folders exist here; the other types list nothing. */
	if (type != NULL && strcmp(type, "VIRTUAL_MACHINE") != 0)
		goto send;
	pthread_mutex_lock(&inv->lock);
	ids = calloc(inv->n ? inv->n : 1, sizeof(*ids));
	for (size_t i = 0; ids != NULL && i < inv->n; i++)
		if (!inv->vms[i]->gone && inv->vms[i]->folder != NULL &&
		    (ids[nids] = strdup(inv->vms[i]->folder)) != NULL)
			nids++;
	pthread_mutex_unlock(&inv->lock);
	if (ids == NULL)
		goto send;
	qsort(ids, nids, sizeof(*ids), vmw_cmp_str);
	for (size_t i = 0; i < nids; i++) {
		char buf[64];
		const char *name;

		if (i > 0 && strcmp(ids[i - 1], ids[i]) == 0)
			continue;
		name = vmw_folder_name(ids[i], buf, sizeof(buf));
		if (!vmw_filter_ok(req, legacy, "folders", ids[i]) ||
		    !vmw_filter_ok(req, legacy, "names", name))
			continue;
		json_array_append_new(list,
				      json_pack("{s:s,s:s,s:s}", "folder",
						ids[i], "name", name, "type",
						"VIRTUAL_MACHINE"));
	}
send:
	for (size_t i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	vmw_reply(req, resp, 200, list);
}

/* GET /api/vcenter/host: the hosts the live VMs run on, in id order. */
static void vmw_host_list(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_VMWARE];
	bool legacy = vmw_is_legacy_path(req);
	bool used[8] = {false};
	json_t *list;

	if (vmw_auth(req, resp, NULL) < 0)
		return;
	pthread_mutex_lock(&inv->lock);
	for (size_t i = 0; i < inv->n; i++)
		if (!inv->vms[i]->gone)
			used[vmw_hash(inv->vms[i]->id, 5) % 8] = true;
	pthread_mutex_unlock(&inv->lock);
	list = json_array();
	for (unsigned k = 0; k < 8; k++) {
		char id[32], name[64];

		snprintf(id, sizeof(id), "host-%u", 1001 + k);
		snprintf(name, sizeof(name), "esx%02u.lab.example.com", k + 1);
		if (!used[k] || !vmw_filter_ok(req, legacy, "hosts", id) ||
		    !vmw_filter_ok(req, legacy, "names", name))
			continue;
		json_array_append_new(
			list, json_pack("{s:s,s:s,s:s,s:s}", "host", id, "name",
					name, "connection_state", "CONNECTED",
					"power_state", "POWERED_ON"));
	}
	vmw_reply(req, resp, 200, list);
}

/* ------------------------------------------------------------------ */
/* CIS tagging. */

static void vmw_tag_id(const char *name, char out[96])
{
	char u[37];

	vmw_uuid_of(name, 11, u);
	snprintf(out, 96, "urn:vmomi:InventoryServiceTag:%s:GLOBAL", u);
}

/* The category of a tag: the part before the first ':', or "general". */
static void vmw_category_name(const char *tag, char *out, size_t outsz)
{
	const char *colon = strchr(tag, ':');

	if (colon == NULL || colon == tag)
		snprintf(out, outsz, "general");
	else
		snprintf(out, outsz, "%.*s", (int)(colon - tag), tag);
}

static void vmw_category_id(const char *cat, char out[96])
{
	char u[37];

	vmw_uuid_of(cat, 13, u);
	snprintf(out, 96, "urn:vmomi:InventoryServiceCategory:%s:GLOBAL", u);
}

/*
 * Tag and category names by id, for every tag of every VM, deleted ones
 * included (a tag outlives its objects).  Computing ids means hashing
 * every tag, so the maps are built once and rebuilt only when the
 * inventory's tags changed (VMs added, tags added: counted, since a VM
 * never loses one).  Guarded by the inventory lock.
 */
static json_t *vmw_tag_names, *vmw_cat_names;
static size_t vmw_names_vms, vmw_names_tags;

static bool vmw_names_fresh_nolock(const struct sim_inv *inv)
{
	size_t tags = 0;

	for (size_t i = 0; i < inv->n; i++)
		tags += inv->vms[i]->ntags;
	if (vmw_tag_names != NULL && vmw_names_vms == inv->n &&
	    vmw_names_tags == tags)
		return true;
	vmw_names_vms = inv->n;
	vmw_names_tags = tags;
	return false;
}

static void vmw_names_build_nolock(const struct sim_inv *inv)
{
	char id[96], cat[128];

	json_decref(vmw_tag_names);
	json_decref(vmw_cat_names);
	vmw_tag_names = json_object();
	vmw_cat_names = json_object();
	for (size_t i = 0; i < inv->n; i++) {
		const struct sim_vm *vm = inv->vms[i];

		for (size_t t = 0; t < vm->ntags; t++) {
			vmw_tag_id(vm->tags[t], id);
			if (json_object_get(vmw_tag_names, id) == NULL)
				json_object_set_new(vmw_tag_names, id,
						    json_string(vm->tags[t]));
			vmw_category_name(vm->tags[t], cat, sizeof(cat));
			vmw_category_id(cat, id);
			if (json_object_get(vmw_cat_names, id) == NULL)
				json_object_set_new(vmw_cat_names, id,
						    json_string(cat));
		}
	}
}

/*
 * Find the tag (want_tag) or category whose id is id; the name goes
 * into out.  false when unknown.
 */
static bool vmw_find_tag(struct sim *sim, const char *id, bool want_tag,
			 char *out, size_t outsz)
{
	struct sim_inv *inv = &sim->inv[SIM_VMWARE];
	const char *name;
	bool found = false;

	pthread_mutex_lock(&inv->lock);
	if (!vmw_names_fresh_nolock(inv))
		vmw_names_build_nolock(inv);
	name = json_string_value(
		json_object_get(want_tag ? vmw_tag_names : vmw_cat_names, id));
	if (name != NULL) {
		snprintf(out, outsz, "%s", name);
		found = true;
	}
	pthread_mutex_unlock(&inv->lock);
	return found;
}

/* Every distinct tag id (want_tag) or category id, in a JSON array. */
static json_t *vmw_all_ids(struct sim *sim, bool want_tag)
{
	struct sim_inv *inv = &sim->inv[SIM_VMWARE];
	json_t *seen = json_object(), *list = json_array();
	char id[96], cat[128];

	pthread_mutex_lock(&inv->lock);
	for (size_t i = 0; i < inv->n; i++) {
		const struct sim_vm *vm = inv->vms[i];

		for (size_t t = 0; t < vm->ntags; t++) {
			if (want_tag) {
				vmw_tag_id(vm->tags[t], id);
			} else {
				vmw_category_name(vm->tags[t], cat,
						  sizeof(cat));
				vmw_category_id(cat, id);
			}
			if (json_object_get(seen, id) != NULL)
				continue;
			json_object_set_new(seen, id, json_true());
			json_array_append_new(list, json_string(id));
		}
	}
	pthread_mutex_unlock(&inv->lock);
	json_decref(seen);
	return list;
}

/* The legacy path form is ".../tag/id:<tag id>". */
static const char *vmw_strip_id_prefix(const char *s)
{
	return s != NULL && strncmp(s, "id:", 3) == 0 ? s + 3 : s;
}

static void vmw_tag_list(struct sim_req *req, struct sim_resp *resp)
{
	if (vmw_auth(req, resp, NULL) < 0)
		return;
	vmw_reply(req, resp, 200, vmw_all_ids(req->sim, true));
}

static void vmw_category_list(struct sim_req *req, struct sim_resp *resp)
{
	if (vmw_auth(req, resp, NULL) < 0)
		return;
	vmw_reply(req, resp, 200, vmw_all_ids(req->sim, false));
}

static void vmw_tag_get(struct sim_req *req, struct sim_resp *resp)
{
	const char *id = vmw_strip_id_prefix(sim_req_param(req, "tag"));
	char name[256], cat[128], catid[96], msg[200];
	const char *desc = "";

	if (vmw_auth(req, resp, NULL) < 0)
		return;
	if (id == NULL ||
	    !vmw_find_tag(req->sim, id, true, name, sizeof(name))) {
		snprintf(msg, sizeof(msg),
			 "Tag with identifier '%.120s' does "
			 "not exist.",
			 id ? id : "");
		vmw_error(req, resp, "NOT_FOUND",
			  "com.vmware.cis.tagging.objectNotFound", msg,
			  json_pack("[s]", id ? id : ""));
		return;
	}
	vmw_category_name(name, cat, sizeof(cat));
	vmw_category_id(cat, catid);
	if (strcmp(name, SIM_MARK_KEEP) == 0)
		desc = "Protected from cleanup";
	else if (strncmp(name, SIM_MARK_EXPIRES "=",
			 sizeof(SIM_MARK_EXPIRES)) == 0)
		desc = "Protected from cleanup until the given time";
	vmw_reply(req, resp, 200,
		  json_pack("{s:s,s:s,s:s,s:s,s:[]}", "id", id, "category_id",
			    catid, "name", name, "description", desc,
			    "used_by"));
}

static void vmw_category_get(struct sim_req *req, struct sim_resp *resp)
{
	const char *id = vmw_strip_id_prefix(sim_req_param(req, "category"));
	char name[128], msg[200];

	if (vmw_auth(req, resp, NULL) < 0)
		return;
	if (id == NULL ||
	    !vmw_find_tag(req->sim, id, false, name, sizeof(name))) {
		snprintf(msg, sizeof(msg),
			 "Category with identifier '%.120s' "
			 "does not exist.",
			 id ? id : "");
		vmw_error(req, resp, "NOT_FOUND",
			  "com.vmware.cis.tagging.objectNotFound", msg,
			  json_pack("[s]", id ? id : ""));
		return;
	}
	vmw_reply(req, resp, 200,
		  json_pack("{s:s,s:s,s:s,s:s,s:[s],s:[]}", "id", id, "name",
			    name, "description", "", "cardinality", "MULTIPLE",
			    "associable_types", "VirtualMachine", "used_by"));
}

/* The tag ids on the live VM obj ({"type","id"}), or NULL when obj is
 * not a VirtualMachine we know.  Call with the inventory lock held. */
static json_t *vmw_tags_of_nolock(struct sim_inv *inv, json_t *obj)
{
	const char *type = json_string_value(json_object_get(obj, "type"));
	const char *id = json_string_value(json_object_get(obj, "id"));
	struct sim_vm *vm;
	json_t *ids;
	char tid[96];

	if (type == NULL || id == NULL || strcmp(type, "VirtualMachine") != 0)
		return NULL;
	if ((vm = sim_inv_find_nolock(inv, id)) == NULL)
		return NULL;
	ids = json_array();
	for (size_t t = 0; t < vm->ntags; t++) {
		vmw_tag_id(vm->tags[t], tid);
		json_array_append_new(ids, json_string(tid));
	}
	return ids;
}

static void vmw_bad_body(struct sim_req *req, struct sim_resp *resp,
			 const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "Invalid request body: %s.", what);
	vmw_error(req, resp, "INVALID_ARGUMENT",
		  "vapi.bindings.typeconverter.fromjson.invalid", msg, NULL);
}

/*
 * list-attached-tags-on-objects: objects that are not VMs we know are
 * left out of the answer, as vCenter leaves out objects it cannot see.
 */
static void vmw_tags_on_objects(struct sim_req *req, struct sim_resp *resp,
				json_t *body)
{
	struct sim_inv *inv = &req->sim->inv[SIM_VMWARE];
	json_t *objs = json_object_get(body, "object_ids"), *o, *out;
	size_t i;

	if (!json_is_array(objs)) {
		vmw_bad_body(req, resp, "object_ids must be a list");
		return;
	}
	out = json_array();
	pthread_mutex_lock(&inv->lock);
	json_array_foreach(objs, i, o)
	{
		json_t *ids = vmw_tags_of_nolock(inv, o);

		if (ids == NULL)
			continue;
		json_array_append_new(out, json_pack("{s:O,s:o}", "object_id",
						     o, "tag_ids", ids));
	}
	pthread_mutex_unlock(&inv->lock);
	vmw_reply(req, resp, 200, out);
}

static void vmw_tags_on_object(struct sim_req *req, struct sim_resp *resp,
			       json_t *body)
{
	struct sim_inv *inv = &req->sim->inv[SIM_VMWARE];
	json_t *obj = json_object_get(body, "object_id"), *ids;
	const char *id = json_string_value(json_object_get(obj, "id"));

	if (!json_is_object(obj) || id == NULL) {
		vmw_bad_body(req, resp, "object_id must be {type, id}");
		return;
	}
	pthread_mutex_lock(&inv->lock);
	ids = vmw_tags_of_nolock(inv, obj);
	pthread_mutex_unlock(&inv->lock);
	if (ids == NULL) {
		vmw_not_found(req, resp, id);
		return;
	}
	vmw_reply(req, resp, 200, ids);
}

/* list-attached-objects: {"tag_id": ...} -> [{"type","id"}, ...]. */
static void vmw_objects_on_tag(struct sim_req *req, struct sim_resp *resp,
			       json_t *body)
{
	struct sim_inv *inv = &req->sim->inv[SIM_VMWARE];
	const char *want = json_string_value(json_object_get(body, "tag_id"));
	json_t *out;
	char tid[96];

	if (want == NULL) {
		vmw_bad_body(req, resp, "tag_id must be a string");
		return;
	}
	out = json_array();
	pthread_mutex_lock(&inv->lock);
	for (size_t i = 0; i < inv->n; i++) {
		const struct sim_vm *vm = inv->vms[i];

		for (size_t t = 0; !vm->gone && t < vm->ntags; t++) {
			vmw_tag_id(vm->tags[t], tid);
			if (strcmp(tid, want) == 0) {
				json_array_append_new(
					out, json_pack("{s:s,s:s}", "type",
						       "VirtualMachine", "id",
						       vm->id));
				break;
			}
		}
	}
	pthread_mutex_unlock(&inv->lock);
	vmw_reply(req, resp, 200, out);
}

static void vmw_tag_association(struct sim_req *req, struct sim_resp *resp)
{
	const char *action = sim_req_query(req, "action");
	json_t *body;

	if (action == NULL)
		action = sim_req_query(req, "~action");
	if (vmw_auth(req, resp, NULL) < 0)
		return;
	if (action == NULL) {
		vmw_error(req, resp, "INVALID_ARGUMENT",
			  "com.vmware.vapi.rest.missingAction",
			  "The action parameter is required.", NULL);
		return;
	}
	if ((body = sim_req_json(req)) == NULL || !json_is_object(body)) {
		json_decref(body);
		vmw_bad_body(req, resp, "expected a JSON object");
		return;
	}
	if (strcmp(action, "list-attached-tags-on-objects") == 0)
		vmw_tags_on_objects(req, resp, body);
	else if (strcmp(action, "list-attached-tags") == 0)
		vmw_tags_on_object(req, resp, body);
	else if (strcmp(action, "list-attached-objects") == 0)
		vmw_objects_on_tag(req, resp, body);
	else
		vmw_error(req, resp, "OPERATION_NOT_FOUND",
			  "com.vmware.vapi.rest.unknownAction",
			  "Unknown action.", NULL);
	json_decref(body);
}

/* ------------------------------------------------------------------ */
/* VI/JSON (vSphere 8.0U1+): login and VirtualMachine.config. */

/*
 * A VI/JSON fault.  Faults come back as the fault object itself; the
 * statuses (401 for NotAuthenticated, 500 for the rest) are our best
 * reading of the public material, not checked against a live server.
 */
static void vmw_vi_fault(struct sim_resp *resp, int status, const char *type,
			 json_t *extra)
{
	json_t *o = json_pack("{s:s,s:n,s:[]}", "_typeName", type, "faultCause",
			      "faultMessage");

	if (extra != NULL) {
		json_object_update(o, extra);
		json_decref(extra);
	}
	sim_resp_json(resp, status, o);
}

static bool vmw_vi_release_ok(const struct sim_req *req)
{
	const char *rel = sim_req_param(req, "release");

	return rel != NULL && rel[0] >= '0' && rel[0] <= '9' &&
	       strspn(rel, "0123456789.") == strlen(rel);
}

static void vmw_vi_login(struct sim_req *req, struct sim_resp *resp)
{
	json_t *body = sim_req_json(req);
	const char *user = json_string_value(json_object_get(body, "userName"));
	const char *pw = json_string_value(json_object_get(body, "password"));
	char tok[SIM_TOKEN_MAX], who[160], now[40];

	if (!vmw_vi_release_ok(req)) {
		json_decref(body);
		vmw_http_not_found(req, resp);
		return;
	}
	if (!sim_check_user(req->sim, user, pw)) {
		json_decref(body);
		vmw_vi_fault(resp, 500, "InvalidLogin", NULL);
		return;
	}
	sim_session_new(req->sim, SIM_VMWARE, user, NULL, tok);
	vmw_principal(user, who, sizeof(who));
	vs_time_format_ms(now, sizeof(now), vs_time_now_ms());
	sim_resp_json(resp, 200,
		      json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b}",
				"_typeName", "UserSession", "key", tok,
				"userName", who, "fullName", who, "loginTime",
				now, "lastActiveTime", now, "locale", "en",
				"messageLocale", "en", "extensionSession", 0));
	sim_resp_header(resp, VMW_SESSION_HDR, tok);
	json_decref(body);
}

static void vmw_vi_logout(struct sim_req *req, struct sim_resp *resp)
{
	const char *tok = sim_req_header(req, VMW_SESSION_HDR);

	if (!vmw_vi_release_ok(req)) {
		vmw_http_not_found(req, resp);
		return;
	}
	if (tok == NULL ||
	    sim_session_end(req->sim, SIM_VMWARE, tok) != SIM_SESSION_OK) {
		vmw_vi_fault(resp, 401, "NotAuthenticated", NULL);
		return;
	}
	sim_resp_empty(resp, 204);
}

static json_t *vmw_vi_config(const struct sim_vm *vm)
{
	char bios[37], inst[37], created[40], modified[40];
	json_t *o;

	vmw_uuid_of(vm->id, 1, bios);
	vmw_uuid_of(vm->id, 2, inst);
	vs_time_format_ms(modified, sizeof(modified),
			  (vm->updated ? vm->updated : vm->created) * 1000);
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:s,"
		      "s:{s:s,s:i,s:i,s:I}}",
		      "_typeName", "VirtualMachineConfigInfo", "changeVersion",
		      modified, "modified", modified, "name", vm->name,
		      "guestFullName", vmw_guest_os(vm), "version", "vmx-19",
		      "template", vm->is_template, "uuid", bios, "instanceUuid",
		      inst, "annotation",
		      vm->description ? vm->description : "", "hardware",
		      "_typeName", "VirtualHardware", "numCPU", vm->cpu_count,
		      "numCoresPerSocket", 1, "memoryMB",
		      (json_int_t)vm->memory_mib);
	/* A VM created before 6.7 has no createDate; an unknown creation
	 * time is rendered the same way. */
	if (o != NULL && vm->created != 0) {
		vs_time_format_ms(created, sizeof(created), vm->created * 1000);
		json_object_set_new(o, "createDate", json_string(created));
	}
	return o;
}

static void vmw_vi_vm_config(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_VMWARE];
	const char *tok = sim_req_header(req, VMW_SESSION_HDR);
	const char *mo = sim_req_param(req, "mo");
	struct sim_vm *vm;
	json_t *cfg = NULL;
	bool unavailable = false;

	if (!vmw_vi_release_ok(req)) {
		vmw_http_not_found(req, resp);
		return;
	}
	/* /api tokens are accepted too: one session space serves both. */
	if (tok == NULL || sim_session_use(req->sim, SIM_VMWARE, tok, NULL) !=
				   SIM_SESSION_OK) {
		vmw_vi_fault(resp, 401, "NotAuthenticated", NULL);
		return;
	}
	pthread_mutex_lock(&inv->lock);
	vm = mo ? sim_inv_find_nolock(inv, mo) : NULL;
	if (vm != NULL && !sim_vm_observe_nolock(req->sim, inv, vm))
		vm = NULL;
	if (vm != NULL) {
		unavailable = vm->config_unavailable;
		if (!unavailable)
			cfg = vmw_vi_config(vm);
	}
	pthread_mutex_unlock(&inv->lock);
	if (vm == NULL) {
		vmw_vi_fault(resp, 500, "ManagedObjectNotFound",
			     json_pack("{s:{s:s,s:s,s:s}}", "obj", "_typeName",
				       "ManagedObjectReference", "type",
				       "VirtualMachine", "value",
				       mo ? mo : ""));
		return;
	}
	/* An unset property (config unavailable) reads as null. */
	sim_resp_json(resp, 200, unavailable ? json_null() : cfg);
}

/* ------------------------------------------------------------------ */
/* Registration. */

static const struct sim_route vmw_routes_modern[] = {
	{"POST", "/api/session", NULL, vmw_session_create},
	{"GET", "/api/session", NULL, vmw_session_get},
	{"DELETE", "/api/session", NULL, vmw_session_delete},
	{"GET", "/api/vcenter/vm", NULL, vmw_vm_list},
	{"GET", "/api/vcenter/vm/{vm}", NULL, vmw_vm_get},
	{"DELETE", "/api/vcenter/vm/{vm}", NULL, vmw_vm_delete},
	{"GET", "/api/vcenter/vm/{vm}/power", NULL, vmw_power_get},
	{"POST", "/api/vcenter/vm/{vm}/power", NULL, vmw_power_post},
	{"GET", "/api/vcenter/folder", NULL, vmw_folder_list},
	{"GET", "/api/vcenter/host", NULL, vmw_host_list},
	{"POST", "/api/cis/tagging/tag-association", NULL, vmw_tag_association},
	{"GET", "/api/cis/tagging/tag", NULL, vmw_tag_list},
	{"GET", "/api/cis/tagging/tag/{tag}", NULL, vmw_tag_get},
	{"GET", "/api/cis/tagging/category", NULL, vmw_category_list},
	{"GET", "/api/cis/tagging/category/{category}", NULL, vmw_category_get},
	{"POST", "/sdk/vim25/{release}/SessionManager/SessionManager/Login",
	 "POST /sdk/vim25/SessionManager/Login", vmw_vi_login},
	{"POST", "/sdk/vim25/{release}/SessionManager/SessionManager/Logout",
	 "POST /sdk/vim25/SessionManager/Logout", vmw_vi_logout},
	{"GET", "/sdk/vim25/{release}/VirtualMachine/{mo}/config",
	 "GET /sdk/vim25/VirtualMachine/config", vmw_vi_vm_config},
};

static const struct sim_route vmw_routes_legacy[] = {
	{"POST", "/rest/com/vmware/cis/session", NULL, vmw_session_post_legacy},
	{"DELETE", "/rest/com/vmware/cis/session", NULL, vmw_session_delete},
	{"GET", "/rest/vcenter/vm", NULL, vmw_vm_list},
	{"GET", "/rest/vcenter/vm/{vm}", NULL, vmw_vm_get},
	{"DELETE", "/rest/vcenter/vm/{vm}", NULL, vmw_vm_delete},
	{"GET", "/rest/vcenter/vm/{vm}/power", NULL, vmw_power_get},
	{"POST", "/rest/vcenter/vm/{vm}/power/{action}", NULL,
	 vmw_power_post_legacy},
	{"GET", "/rest/vcenter/folder", NULL, vmw_folder_list},
	{"GET", "/rest/vcenter/host", NULL, vmw_host_list},
	{"POST", "/rest/com/vmware/cis/tagging/tag-association", NULL,
	 vmw_tag_association},
	{"GET", "/rest/com/vmware/cis/tagging/tag", NULL, vmw_tag_list},
	{"GET", "/rest/com/vmware/cis/tagging/tag/{tag}", NULL, vmw_tag_get},
	{"GET", "/rest/com/vmware/cis/tagging/category", NULL,
	 vmw_category_list},
	{"GET", "/rest/com/vmware/cis/tagging/category/{category}", NULL,
	 vmw_category_get},
};

#define VMW_NMODERN (sizeof(vmw_routes_modern) / sizeof(vmw_routes_modern[0]))
#define VMW_NLEGACY (sizeof(vmw_routes_legacy) / sizeof(vmw_routes_legacy[0]))

/* Both tables in one, built once at registration (the core keeps the
 * pointer for the life of the process). */
static struct sim_route vmw_routes_all[VMW_NMODERN + VMW_NLEGACY];

static const char *const vmw_prefixes[] = {"/api/", "/rest/", "/sdk/", NULL};

void sim_vmware_register(struct sim *sim)
{
	static struct sim_platform_ops ops;
	size_t n = 0;

	/* A 6.7 vCenter knows only /rest; /api and /sdk still belong to
	 * us so that they answer with vCenter's 404, not the core's. */
	if (!sim->opts.vsphere_legacy)
		for (size_t i = 0; i < VMW_NMODERN; i++)
			vmw_routes_all[n++] = vmw_routes_modern[i];
	for (size_t i = 0; i < VMW_NLEGACY; i++)
		vmw_routes_all[n++] = vmw_routes_legacy[i];
	ops.platform = SIM_VMWARE;
	ops.prefixes = vmw_prefixes;
	ops.routes = vmw_routes_all;
	ops.nroutes = n;
	ops.error = vmw_render_error;
	ops.reset = NULL;
	sim_platform_add(sim, &ops);
}
