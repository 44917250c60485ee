/* sim_vmware.c - replaced by the vmware platform; registers nothing yet. */
#include "sim.h"

void sim_vmware_register(struct sim *sim)
{
	(void)sim;
}
