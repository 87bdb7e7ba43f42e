# parquet.mk — extra targets for the Parquet reader (included by Makefile).
#
#   (the Parquet fuzzer is built and run by mk/fuzz.mk: make fuzz)
