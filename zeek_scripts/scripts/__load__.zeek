@load ./consts
@load ./main
@load ./gre
@load ./cluster
