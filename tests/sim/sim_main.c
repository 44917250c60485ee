/*
 * sim_main.c - vmsweep-sim's command line, start-up and shutdown.
 *
 * The main thread parses arguments, builds the inventories, registers
 * the platforms, starts the daemon and then only waits for SIGINT or
 * SIGTERM (blocked in every thread, taken with sigwait), so shutdown
 * runs in ordinary thread context.
 */
#include "sim_core.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "timeutil.h"

static const char usage[] =
	"usage: vmsweep-sim [--listen ADDR:PORT] [--port-file FILE]\n"
	"                   [--tls-cert FILE --tls-key FILE]\n"
	"                   [--inventory FILE | --generate "
	"vmware=N,rhv=N,osp=N] [--seed S]\n"
	"                   [--user NAME --password SECRET]\n"
	"                   [--latency MS[:JITTER_MS]]\n"
	"                   [--fault PROVIDER:KIND[:RATE]]...\n"
	"                   [--session-ttl REQUESTS] [--delete-polls K]\n"
	"                   [--vsphere-legacy] [--vsphere-cap N]\n"
	"                   [--request-log FILE]\n"
	"\n"
	"A simulator of the vSphere, oVirt/RHV and OpenStack APIs for "
	"vmsweep.\n"
	"  --listen ADDR:PORT    listen address (default 127.0.0.1:8443; "
	"port 0 picks one)\n"
	"  --port-file FILE      write the port there once listening\n"
	"  --tls-cert/--tls-key  serve HTTPS with this PEM certificate and "
	"key\n"
	"  --inventory FILE      load VMs from JSON (or .yaml/.yml)\n"
	"  --generate SPEC       generate a lab (default "
	"vmware=50,rhv=50,osp=50)\n"
	"  --seed S              generator seed (default 1)\n"
	"  --user/--password     accepted credentials (default admin / "
	"secret)\n"
	"  --latency MS[:J]      delay every API response MS ms plus up to "
	"J ms\n"
	"  --fault P:K[:RATE]    P vmware|rhv|osp|all; K "
	"500|502|503|429|drop|hang|\n"
	"                        delete-error|delete-stuck|protect-late; "
	"RATE 0..1\n"
	"                        (default 1)\n"
	"  --session-ttl N       a session token expires after N requests\n"
	"  --delete-polls K      a deleted VM stays visible for K looks "
	"(default 2)\n"
	"  --vsphere-legacy      serve only the vSphere 6.5-6.7 /rest API\n"
	"  --vsphere-cap N       vSphere VM list limit (default 4000)\n"
	"  --request-log FILE    append one JSON line per request\n"
	"See docs/simulator.md.\n";

/* One line on stderr and exit 2, as for every usage error. */
static void die_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("vmsweep-sim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	exit(2);
}

static unsigned long long parse_num(const char *s, const char *what,
				    unsigned long long max)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		die_usage("bad %s '%s'", what, s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		die_usage("bad %s '%s'", what, s ? s : "");
	return v;
}

static void parse_listen(struct sim_opts *o, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	size_t n;

	if (colon == NULL) {
		o->listen_port =
			(unsigned)parse_num(arg, "--listen port", 65535);
		return;
	}
	n = (size_t)(colon - arg);
	if (n == 0 || n >= sizeof(o->listen_addr))
		die_usage("bad --listen '%s' (want ADDR:PORT)", arg);
	memcpy(o->listen_addr, arg, n);
	o->listen_addr[n] = '\0';
	o->listen_port = (unsigned)parse_num(colon + 1, "--listen port", 65535);
}

static void parse_generate(struct sim_opts *o, const char *arg)
{
	char spec[256], *save = NULL, *item;

	if (strlen(arg) >= sizeof(spec))
		die_usage("bad --generate '%s'", arg);
	memcpy(spec, arg, strlen(arg) + 1);
	memset(o->generate, 0, sizeof(o->generate));
	for (item = strtok_r(spec, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		int p = -1;

		if (eq == NULL)
			die_usage("bad --generate item '%s' (want NAME=N)",
				  item);
		*eq = '\0';
		for (int i = 0; i < SIM_NPLATFORMS; i++)
			if (!strcmp(item, sim_platform_name(i)))
				p = i;
		if (p < 0)
			die_usage("unknown platform '%s' in --generate", item);
		o->generate[p] =
			(size_t)parse_num(eq + 1, "--generate count", 1000000);
	}
}

static void parse_latency(struct sim_opts *o, const char *arg)
{
	char ms[32];
	const char *colon = strchr(arg, ':');
	size_t n = colon ? (size_t)(colon - arg) : strlen(arg);

	if (n >= sizeof(ms))
		die_usage("bad --latency '%s'", arg);
	memcpy(ms, arg, n);
	ms[n] = '\0';
	o->latency_ms = (unsigned)parse_num(ms, "--latency", 600000);
	if (colon)
		o->jitter_ms = (unsigned)parse_num(colon + 1,
						   "--latency jitter", 600000);
}

enum {
	OPT_LISTEN = 256,
	OPT_PORT_FILE,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_INVENTORY,
	OPT_GENERATE,
	OPT_SEED,
	OPT_USER,
	OPT_PASSWORD,
	OPT_LATENCY,
	OPT_FAULT,
	OPT_SESSION_TTL,
	OPT_DELETE_POLLS,
	OPT_VSPHERE_LEGACY,
	OPT_VSPHERE_CAP,
	OPT_REQUEST_LOG,
	OPT_HELP
};

static const struct option long_opts[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"port-file", required_argument, NULL, OPT_PORT_FILE},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"inventory", required_argument, NULL, OPT_INVENTORY},
	{"generate", required_argument, NULL, OPT_GENERATE},
	{"seed", required_argument, NULL, OPT_SEED},
	{"user", required_argument, NULL, OPT_USER},
	{"password", required_argument, NULL, OPT_PASSWORD},
	{"latency", required_argument, NULL, OPT_LATENCY},
	{"fault", required_argument, NULL, OPT_FAULT},
	{"session-ttl", required_argument, NULL, OPT_SESSION_TTL},
	{"delete-polls", required_argument, NULL, OPT_DELETE_POLLS},
	{"vsphere-legacy", no_argument, NULL, OPT_VSPHERE_LEGACY},
	{"vsphere-cap", required_argument, NULL, OPT_VSPHERE_CAP},
	{"request-log", required_argument, NULL, OPT_REQUEST_LOG},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0}};

static void parse_args(struct sim_opts *o, int argc, char **argv)
{
	bool generate_given = false;
	char err[256];
	int c;

	memset(o, 0, sizeof(*o));
	snprintf(o->listen_addr, sizeof(o->listen_addr), "127.0.0.1");
	o->listen_port = 8443;
	o->seed = 1;
	o->user = "admin";
	o->password = "secret";
	o->delete_polls = 2;
	o->vsphere_cap = 4000;
	for (int p = 0; p < SIM_NPLATFORMS; p++)
		o->generate[p] = 50;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			parse_listen(o, optarg);
			break;
		case OPT_PORT_FILE:
			o->port_file = optarg;
			break;
		case OPT_TLS_CERT:
			o->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			o->tls_key = optarg;
			break;
		case OPT_INVENTORY:
			o->inventory_file = optarg;
			break;
		case OPT_GENERATE:
			parse_generate(o, optarg);
			generate_given = true;
			break;
		case OPT_SEED:
			o->seed = parse_num(optarg, "--seed", UINT64_MAX);
			break;
		case OPT_USER:
			if (*optarg == '\0')
				die_usage("empty --user");
			o->user = optarg;
			break;
		case OPT_PASSWORD:
			o->password = optarg;
			break;
		case OPT_LATENCY:
			parse_latency(o, optarg);
			break;
		case OPT_FAULT:
			if (sim_fault_parse(o, optarg, err, sizeof(err)) < 0)
				die_usage("%s", err);
			break;
		case OPT_SESSION_TTL:
			o->session_ttl = (unsigned)parse_num(
				optarg, "--session-ttl", 1000000000);
			break;
		case OPT_DELETE_POLLS:
			o->delete_polls = (int)parse_num(
				optarg, "--delete-polls", 1000000);
			break;
		case OPT_VSPHERE_LEGACY:
			o->vsphere_legacy = true;
			break;
		case OPT_VSPHERE_CAP:
			o->vsphere_cap = (unsigned)parse_num(
				optarg, "--vsphere-cap", 1000000000);
			break;
		case OPT_REQUEST_LOG:
			o->request_log = optarg;
			break;
		case 'h':
		case OPT_HELP:
			fputs(usage, stdout);
			exit(0);
		default:
			if (optopt != 0 && optopt < 256)
				die_usage("unknown option '-%c'", optopt);
			die_usage("unknown or incomplete option '%s'",
				  argv[optind - 1]);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if ((o->tls_cert == NULL) != (o->tls_key == NULL))
		die_usage("--tls-cert and --tls-key go together");
	if (o->inventory_file && generate_given)
		die_usage("--inventory and --generate exclude each other");
}

/* ------------------------------------------------------------------ */

void sim_platform_add(struct sim *sim, const struct sim_platform_ops *ops)
{
	if (ops != NULL && (unsigned)ops->platform < SIM_NPLATFORMS)
		sim->ops[ops->platform] = ops;
}

int sim_inventory_build(struct sim *sim, char *err, size_t errsz)
{
	struct sim_rng r;

	sim_rng_seed(&r, sim->opts.seed);
	for (int p = 0; p < SIM_NPLATFORMS; p++) {
		pthread_mutex_lock(&sim->inv[p].lock);
		sim_inv_clear(&sim->inv[p]);
		pthread_mutex_unlock(&sim->inv[p].lock);
	}
	if (sim->opts.inventory_file != NULL)
		return sim_inventory_load(sim, sim->opts.inventory_file, &r,
					  err, errsz);
	for (int p = 0; p < SIM_NPLATFORMS; p++) {
		/* Each platform draws from its own stream, so changing one
		 * count leaves the other labs as they were. */
		struct sim_rng pr;

		sim_rng_seed(&pr, sim_rng_next(&r));
		if (sim_generate(sim, p, sim->opts.generate[p], &pr) < 0) {
			snprintf(err, errsz, "out of memory generating %s",
				 sim_platform_name(p));
			return -1;
		}
	}
	return 0;
}

/* Room for the connection limit plus files; lift the soft limit. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static struct sim sim;
	sigset_t set;
	char err[512];
	size_t counts[SIM_NPLATFORMS];
	int sig = 0, rc = 1;

	parse_args(&sim.opts, argc, argv);
	/* A listing page is a few megabytes of short-lived allocations;
	 * keep freed memory for the next page instead of returning it to
	 * the kernel and faulting it back in every time. */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
	mallopt(M_TOP_PAD, 16 * 1024 * 1024);
	for (int p = 0; p < SIM_NPLATFORMS; p++)
		sim_inv_init(&sim.inv[p]);
	if (sim_core_init(&sim) < 0) {
		fprintf(stderr, "vmsweep-sim: out of memory\n");
		return 1;
	}
	if (sim_inventory_build(&sim, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmsweep-sim: %s\n", err);
		rc = 2;
		goto out;
	}
	sim_vmware_register(&sim);
	sim_rhv_register(&sim);
	sim_osp_register(&sim);

	/* Every thread created from here on inherits the blocked set. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	raise_nofile();
	sim.started = vs_time_now();

	/* Counted before the daemon's threads may touch the inventories. */
	for (int p = 0; p < SIM_NPLATFORMS; p++)
		counts[p] = sim.inv[p].n;
	if (sim_http_start(&sim, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmsweep-sim: %s\n", err);
		goto out;
	}
	fprintf(stderr,
		"vmsweep-sim: listening on %s://%s:%u (vmware %zu, rhv %zu, "
		"osp %zu VMs)\n",
		sim.tls ? "https" : "http", sim.opts.listen_addr,
		sim_http_port(&sim), counts[SIM_VMWARE], counts[SIM_RHV],
		counts[SIM_OSP]);
	while (sigwait(&set, &sig) != 0)
		;
	fprintf(stderr, "vmsweep-sim: %s, stopping\n",
		sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	sim_http_stop(&sim);
	sim_core_release(&sim);
	for (int p = 0; p < SIM_NPLATFORMS; p++)
		sim_inv_release(&sim.inv[p]);
	return rc;
}
