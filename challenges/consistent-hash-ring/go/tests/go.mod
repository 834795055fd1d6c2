module hashring

go 1.19
