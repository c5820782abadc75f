module gomapbench/sync

go 1.19
