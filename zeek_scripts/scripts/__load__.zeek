@load ./consts
@load ./main
@load ./gre
