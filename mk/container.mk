# container.mk — the container image (included by the Makefile).
#
#   make container-test    build the image (unit tests run in its build stage)
#                          and prove a container of it serves lookups and
#                          answers /readyz against a Redis on loopback, then
#                          stops cleanly (scripts/container-test.sh; Docker if
#                          an engine answers, else Podman, installed as root)
#   make container-base    only make the local base image debian:bookworm-slim
#                          for Podman (debootstrap + podman import; cached)

.PHONY: container-test container-base
container-test:
	@scripts/container-test.sh
container-base:
	@scripts/make-base-image.sh
