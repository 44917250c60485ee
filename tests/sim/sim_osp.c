#include "sim.h"
void sim_osp_register(struct sim *sim)
{
	(void)sim;
}
