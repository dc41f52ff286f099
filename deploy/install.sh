#!/bin/sh
# Lay out the services (deploy/systemd), the HTTPS front (deploy/Caddyfile) and their settings
# under ROOT: "/" on the server (as root), a temporary folder in tests. APP is the installed
# project (its .venv, workspace.yaml), by default the folder holding this script's deploy/.
# Existing settings files (/etc/tuangiao/*.env) are kept; the units and the Caddyfile are replaced.
# On "/" it also makes the service user and reloads systemd; starting is left to the operator
# (README, "Vận hành").
set -eu
root=${1:?"cách dùng: deploy/install.sh THƯ_MỤC_GỐC [THƯ_MỤC_CHƯƠNG_TRÌNH], ví dụ: deploy/install.sh /"}
here=$(cd "$(dirname "$0")" && pwd)
app=${2:-$(dirname "$here")}
root=${root%/}
units="$root/etc/systemd/system"
install -d -m 0755 "$units" "$units/caddy.service.d" "$root/etc/caddy"
install -d -m 0750 "$root/etc/tuangiao"
for unit in "$here"/systemd/tuangiao*; do
  sed "s|@APP@|$app|g" "$unit" >"$units/$(basename "$unit")"
  chmod 0644 "$units/$(basename "$unit")"
done
install -m 0644 "$here/systemd/caddy.service.d/tuangiao.conf" "$units/caddy.service.d/tuangiao.conf"
if [ -e "$root/etc/caddy/Caddyfile" ] && ! cmp -s "$here/Caddyfile" "$root/etc/caddy/Caddyfile"; then
  cp -p "$root/etc/caddy/Caddyfile" "$root/etc/caddy/Caddyfile.truoc-tuangiao"
fi
install -m 0644 "$here/Caddyfile" "$root/etc/caddy/Caddyfile"
for settings in tuangiao caddy; do
  [ -e "$root/etc/tuangiao/$settings.env" ] || install -m 0640 "$here/$settings.env.example" "$root/etc/tuangiao/$settings.env"
done
if [ -z "$root" ]; then
  id tuangiao >/dev/null 2>&1 || useradd --system --home-dir /var/lib/tuangiao --shell /usr/sbin/nologin tuangiao
  chgrp tuangiao /etc/tuangiao /etc/tuangiao/tuangiao.env
  systemctl daemon-reload
fi
echo "Đã cài các dịch vụ vào $units (chương trình ở $app)."
echo "Tiếp theo: sửa $root/etc/tuangiao/tuangiao.env và $root/etc/tuangiao/caddy.env, tạo $root/etc/caddy/tuangiao-users"
echo "(caddy hash-password), rồi: systemctl enable --now tuangiao.target tuangiao-backup.timer && systemctl restart caddy"
