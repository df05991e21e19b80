#!/usr/bin/env bash
# Installs the real S3 clients the tests drive (Debian packages), only when
# missing. Idempotent.
set -euo pipefail
need=()
command -v /usr/bin/aws >/dev/null 2>&1 || need+=(awscli)
/usr/bin/python3 -c 'import boto3' >/dev/null 2>&1 || need+=(python3-boto3)
command -v s3cmd >/dev/null 2>&1 || need+=(s3cmd)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "test clients present: aws, boto3, s3cmd, rclone"
