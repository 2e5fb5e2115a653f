# cloud/ec2sim/: the ebs-ec2-sim program (EC2 Query API + IMDS simulator).
# EC2SIM_SRCS holds main(); the rest form libec2sim.a, which the unit tests link.
EC2SIM_SRCS += cloud/ec2sim/sim_main.c
EC2SIM_LIB_SRCS += cloud/ec2sim/sim.c cloud/ec2sim/sim_attach.c cloud/ec2sim/sim_auth.c \
	cloud/ec2sim/sim_config.c cloud/ec2sim/sim_data.c cloud/ec2sim/sim_ec2.c cloud/ec2sim/sim_faults.c \
	cloud/ec2sim/sim_form.c cloud/ec2sim/sim_http.c cloud/ec2sim/sim_imds.c cloud/ec2sim/sim_instances.c \
	cloud/ec2sim/sim_modify.c cloud/ec2sim/sim_persist.c cloud/ec2sim/sim_query.c cloud/ec2sim/sim_rules.c \
	cloud/ec2sim/sim_snapshots.c cloud/ec2sim/sim_state.c cloud/ec2sim/sim_stats.c cloud/ec2sim/sim_tags.c \
	cloud/ec2sim/sim_volumes.c cloud/ec2sim/sim_xml.c
