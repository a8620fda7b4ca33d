#!/bin/sh
# Turns a fresh Debian 12 / Ubuntu 24.04 PC into a board that boots into the player.
#
#   sudo kiosk/install.sh --board-id tan-quan --name "UBND xã Tân Quan" --hub https://hub.example/
#   sudo kiosk/install.sh --board-id tan-quan --name "UBND xã Tân Quan" \
#        --feed-url https://district.example/feed/feed.json --feed-key ed25519:... --inbox /srv/signage/bangtin
#   sudo kiosk/install.sh --uninstall
#
# Idempotent: every file is compared before it is written, the venv is rebuilt only when the project's
# files changed, and the board's config is written only when absent. A second run changes nothing.
# --dry-run says what would change and changes nothing. --root DIR installs under DIR (a chroot's tree or a
# test folder): no user, no packages, no systemctl, and no joining (an image's key would be every board's). In a
# chroot or container (systemd not running) the units are installed but not enabled, with a message.
# --hub: the board makes its key and asks the hub to take it (`signage join`, as the player's user); the config
# gains [report] and [feed] for that hub, once (a config that has either is left as it is).
set -eu

usage() {
    cat <<'EOF'
usage: install.sh [--board-id ID] [--name NAME] [--hub URL | --feed-url URL --feed-key KEY] [--inbox PATH]
                  [--prefix DIR] [--config FILE] [--root DIR] [--no-apt] [--no-share] [--dry-run] [--uninstall]
       install.sh --print-share-conf PATH
  --board-id ID     the board's id, as in bulletins' "boards" (a-z, 0-9, -)
  --name NAME       the commune's name shown in the header, e.g. "UBND xã Tân Quan"
  --hub URL         the hub's address (optional), e.g. https://hub.example/: the board asks it to take it,
                    then reports to it and plays its feed once an administrator accepts it
  --feed-url URL    a static district feed instead of a hub's (optional; with --feed-key)
  --feed-key KEY    the district's pinned public key, ed25519:...
  --inbox PATH      the clerk's drop folder (optional), e.g. /srv/signage/bangtin
  --prefix DIR      where the player is installed (default /opt/signage)
  --config FILE     the board's config (default /etc/signage/board.toml); written only when absent
  --root DIR        install under DIR instead of / (no user, packages or systemctl)
  --no-apt          do not install missing Debian packages
  --no-share        do not set up the Samba share \\<this PC>\bangtin of the drop folder (user bangtin, a
                    password printed once); by default it is set up when there is a drop folder
  --print-share-conf PATH  print the share's smb.conf section for the drop folder PATH, change nothing
  --dry-run         say what would be done, change nothing
  --uninstall       disable and remove the units, udev rule and prefix (keeps /var/lib/signage, /etc/signage)
Without the answers and on a terminal, it asks; the config's answers are not needed when it exists.
EOF
}

die() { echo "install.sh: $*" >&2; exit 1; }
usage_error() { echo "install.sh: $*" >&2; usage >&2; exit 2; }
say() { echo "install.sh: $*"; }

board_id='' name='' hub='' feed_url='' feed_key='' inbox='' root='' prefix=/opt/signage config=/etc/signage/board.toml
dry_run=0 uninstall=0 use_apt=1 share=1

# share_conf PATH: the smb.conf section sharing the drop folder PATH as \\<this PC>\bangtin. Only the office's
# bangtin user (a Samba password, no login) may connect; what it writes is the signage user's, so the board reads
# it and the clerk may delete what was set aside. Links are never followed: the board refuses them anyway.
share_include='include = /etc/samba/signage-bangtin.conf'
share_conf() {
    cat <<EOF
[bangtin]
   comment = Bang tin: tep de hien thi
   path = $1
   valid users = bangtin
   guest ok = no
   read only = no
   browseable = yes
   force user = signage
   force group = signage
   create mask = 0644
   directory mask = 0755
   follow symlinks = no
   wide links = no
EOF
}
while [ $# -gt 0 ]; do
    case "$1" in
        --board-id|--name|--hub|--feed-url|--feed-key|--inbox|--prefix|--config|--root)
            [ $# -ge 2 ] || usage_error "$1 needs a value"
            case "$1" in
                --board-id) board_id=$2 ;; --name) name=$2 ;; --hub) hub=$2 ;; --feed-url) feed_url=$2 ;;
                --feed-key) feed_key=$2 ;; --inbox) inbox=$2 ;; --prefix) prefix=$2 ;;
                --config) config=$2 ;; --root) root=${2%/} ;;
            esac
            shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        --uninstall) uninstall=1; shift ;;
        --no-apt) use_apt=0; shift ;;
        --no-share) share=0; shift ;;
        --print-share-conf)
            [ $# -ge 2 ] || usage_error "$1 needs the drop folder's path"
            case "$2" in /*) ;; *) usage_error "$1: the drop folder's path must be absolute" ;; esac
            share_conf "$2"; exit 0 ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown option: $1" ;;
    esac
done
case "$prefix" in /*) ;; *) usage_error "--prefix must be an absolute path" ;; esac
case "$config" in /*) ;; *) usage_error "--config must be an absolute path" ;; esac
case "$hub" in ''|http://?*|https://?*) ;; *) usage_error "--hub: expected an http(s) address such as https://hub.example/, got '$hub'" ;; esac
[ -z "$hub" ] || [ -z "$feed_url" ] || usage_error "--hub and --feed-url: one or the other (a hub serves the board's feed)"

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")          # the project tree: the folder holding kiosk/
state_dir=/var/lib/signage
unitdir=/etc/systemd/system
units="signage-x.service signage.service signage-usb-import@.service"
changed=0

# Runs a command, or only prints it with --dry-run.
run() {
    if [ "$dry_run" = 1 ]; then echo "would run: $*"; else "$@"; fi
}

# install_file SRC DEST MODE: copies SRC to $root/DEST unless identical.
install_file() {
    dest="$root$2"
    if [ -f "$dest" ] && cmp -s "$1" "$dest"; then
        say "unchanged: $2"
        return 0
    fi
    changed=1
    if [ "$dry_run" = 1 ]; then echo "would install: $2 (mode $3)"; return 0; fi
    mkdir -p "$(dirname "$dest")"
    install -m "$3" "$1" "$dest"
    say "installed: $2"
}

# remove_path PATH: removes $root/PATH if present.
remove_path() {
    if [ -e "$root$1" ] || [ -L "$root$1" ]; then
        changed=1
        run rm -rf "$root$1"
        [ "$dry_run" = 1 ] || say "removed: $1"
    fi
}

systemd_running() { [ -z "$root" ] && [ -d /run/systemd/system ]; }

# --- uninstall -------------------------------------------------------------------------------------
if [ "$uninstall" = 1 ]; then
    [ "$dry_run" = 1 ] || [ -n "$root" ] || [ "$(id -u)" = 0 ] || die "run as root (sudo)"
    if systemd_running; then
        for unit in signage.service signage-x.service; do
            run systemctl disable --now "$unit" 2>/dev/null || true
        done
    else
        say "systemd is not running here: nothing to stop or disable"
    fi
    for unit in $units; do remove_path "$unitdir/$unit"; done
    remove_path /etc/udev/rules.d/99-signage-usb.rules
    remove_path /etc/systemd/journald.conf.d/signage.conf
    remove_path "$prefix"
    if [ -f "$root/etc/samba/smb.conf" ] && grep -qxF "$share_include" "$root/etc/samba/smb.conf"; then
        changed=1
        run sed -i "\\|^$share_include\$|d" "$root/etc/samba/smb.conf"
    fi
    remove_path /etc/samba/signage-bangtin.conf
    if systemd_running && [ "$changed" = 1 ]; then
        run systemctl daemon-reload
        run udevadm control --reload || true
    fi
    say "kept $state_dir (the board's cache and database), $(dirname "$config") (its config) and the signage user;"
    say "remove them by hand if the board is retired: rm -rf $state_dir $(dirname "$config"); userdel signage"
    say "kept the Samba user bangtin, if any: smbpasswd -x bangtin; userdel bangtin"
    exit 0
fi

# --- install ---------------------------------------------------------------------------------------
{ [ -f "$src/pyproject.toml" ] && [ -d "$src/signage" ]; } || die "$src does not look like the signage project (no pyproject.toml)"
[ "$dry_run" = 1 ] || [ -n "$root" ] || [ "$(id -u)" = 0 ] || die "run as root (sudo), or --dry-run to see what would be done"

# The answers: asked for on a terminal when missing, needed only when the config is absent.
ask() { # ask VAR "question"
    if [ -t 0 ]; then
        printf '%s: ' "$2"
        # shellcheck disable=SC2034 # answer is read by the eval
        read -r answer || answer=''
        eval "$1=\$answer"
    fi
}
if [ ! -f "$root$config" ]; then
    [ -n "$board_id" ] || ask board_id "board id (a-z, 0-9, -), e.g. tan-quan"
    [ -n "$name" ] || ask name "commune name shown in the header, e.g. UBND xã Tân Quan"
    [ -n "$hub" ] || [ -n "$feed_url" ] || ask hub "hub address (empty: none), e.g. https://hub.example/"
    case "$hub" in ''|http://?*|https://?*) ;; *) usage_error "hub address: expected https://..., got '$hub'" ;; esac
    [ -n "$hub" ] || [ -n "$feed_url" ] || ask feed_url "district feed URL (empty: none)"
    [ -n "$feed_url" ] && [ -z "$feed_key" ] && ask feed_key "district public key ed25519:..."
    [ -n "$inbox" ] || ask inbox "drop folder path (empty: none), e.g. /srv/signage/bangtin"
    [ -n "$board_id" ] || usage_error "$config is absent: --board-id is needed to write it"
    [ -n "$name" ] || usage_error "$config is absent: --name is needed to write it"
    printf '%s' "$board_id" | grep -Eq '^[a-z0-9][a-z0-9-]*$' || usage_error "--board-id: use a-z, 0-9 and -, got '$board_id'"
    if [ -n "$feed_url" ] || [ -n "$feed_key" ]; then
        case "$feed_url" in http://*|https://*) ;; *) usage_error "--feed-url: expected an http(s) URL, got '$feed_url'" ;; esac
        case "$feed_key" in ed25519:?*) ;; *) usage_error "--feed-key: expected ed25519:..., got '$feed_key'" ;; esac
    fi
    case "$inbox" in ''|/*) ;; *) usage_error "--inbox must be an absolute path" ;; esac
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. Debian packages the board needs: Python's venv, rsync, a bare X server (no desktop), and LibreOffice without
# its GUI to turn the drop folder's .doc, .odt, .rtf, slides and sheets into PDF.
packages="python3 python3-venv rsync xserver-xorg-core xserver-xorg-input-libinput xinit x11-xserver-utils"
packages="$packages libreoffice-writer-nogui libreoffice-impress-nogui libreoffice-calc-nogui"
# The drop folder shared as \\<this PC>\bangtin: the config's, once it exists (it is never rewritten), else the answer.
share_path=$inbox
if [ -f "$root$config" ]; then
    share_path=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb")).get("inbox", {}).get("path", ""))' \
        "$root$config" 2>/dev/null || true)
fi
case "$share_path" in /*) ;; *) share=0 ;; esac
if [ "$share" = 1 ]; then packages="$packages samba"; fi
if [ -z "$root" ] && [ "$use_apt" = 1 ] && command -v dpkg-query >/dev/null; then
    missing=''
    for p in $packages; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        changed=1
        # shellcheck disable=SC2086 # a list of package names
        run env DEBIAN_FRONTEND=noninteractive sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing"
    else
        say "unchanged: Debian packages ($packages)"
    fi
fi

# 2. The signage system user (home /var/lib/signage: the board's cache, database and queue).
if [ -z "$root" ]; then
    if id signage >/dev/null 2>&1; then
        say "unchanged: user signage"
    else
        changed=1
        run useradd --system --home-dir "$state_dir" --create-home --shell /usr/sbin/nologin --user-group signage
    fi
    for g in audio video render input; do
        if getent group "$g" >/dev/null && ! id -nG signage 2>/dev/null | tr ' ' '\n' | grep -qx "$g"; then
            changed=1
            run usermod -aG "$g" signage
        fi
    done
else
    say "--root: no user created (signage, home $state_dir)"
fi
if [ ! -d "$root$state_dir" ]; then
    changed=1
    run mkdir -p "$root$state_dir"
    [ -n "$root" ] || run chown signage:signage "$state_dir"
fi
# The board's database, report queue and key live there: the signage user's alone (useradd makes it 0755).
if [ ! -d "$root$state_dir" ] || [ "$(stat -c %a "$root$state_dir")" != 700 ]; then
    changed=1
    run chmod 0700 "$root$state_dir"
fi

# 3. The project tree and its venv. rsync's itemized output tells whether anything changed.
command -v rsync >/dev/null || { [ "$dry_run" = 1 ] || die "rsync is needed (apt-get install rsync)"; }
set -- -a --omit-dir-times --delete --checksum --exclude=/.venv --exclude=/.git --exclude=__pycache__ --exclude=/.pytest_cache \
    --exclude=/.ruff_cache --exclude=/screenshots --exclude='*.egg-info' --exclude=/build
if [ "$dry_run" = 1 ]; then set -- "$@" --dry-run; fi
if command -v rsync >/dev/null; then
    [ "$dry_run" = 1 ] || mkdir -p "$root$prefix"
    rsync "$@" --itemize-changes "$src/" "$root$prefix/" >"$tmp/rsync"
    if [ -s "$tmp/rsync" ]; then
        changed=1
        if [ "$dry_run" = 1 ]; then echo "would copy: $src -> $prefix ($(wc -l <"$tmp/rsync") changes)"; else say "copied: $src -> $prefix"; fi
    else
        say "unchanged: $prefix"
    fi
fi
# The venv is rebuilt when the project's files differ from those it was built from (a stamp of their hashes).
stamp="$root$prefix/.venv/.signage-source"
(cd "$src" && find pyproject.toml signage -type f ! -path '*/__pycache__/*' ! -name '*.pyc' | LC_ALL=C sort | xargs sha256sum) >"$tmp/source"
if [ -f "$stamp" ] && cmp -s "$tmp/source" "$stamp" && [ -x "$root$prefix/.venv/bin/signage" ]; then
    say "unchanged: $prefix/.venv"
else
    changed=1
    if [ "$dry_run" = 1 ]; then
        echo "would run: python3 -m venv $prefix/.venv && $prefix/.venv/bin/pip install $prefix"
    else
        [ -x "$root$prefix/.venv/bin/python" ] || python3 -m venv "$root$prefix/.venv"
        "$root$prefix/.venv/bin/python" -m pip install --quiet --disable-pip-version-check "$root$prefix"
        cp "$tmp/source" "$stamp"
        say "installed: the player in $prefix/.venv"
    fi
fi

# 4. The board's config, only when absent: an edited config is never overwritten.
if [ -f "$root$config" ]; then
    say "kept: $config (exists; edit it by hand)"
else
    toml_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
    {
        echo "# The board's config, written by kiosk/install.sh. Every key: $prefix/docs/config.md"
        echo "[board]"
        echo "id = $(toml_string "$board_id")"
        echo "name = $(toml_string "$name")"
        echo 'timezone = "Asia/Ho_Chi_Minh"'
        echo "data_dir = \"$state_dir\""
        if [ -n "$feed_url" ]; then
            echo
            echo "[feed]"
            echo "url = $(toml_string "$feed_url")"
            echo "public_keys = [$(toml_string "$feed_key")]"
        fi
        if [ -n "$inbox" ]; then
            echo
            echo "[inbox]"
            echo "path = $(toml_string "$inbox")"
        fi
        echo
        echo "[display]"
        echo 'on = "06:00"'
        echo 'off = "22:00"'
    } >"$tmp/board.toml"
    install_file "$tmp/board.toml" "$config" 0644
    if [ -n "$inbox" ] && [ ! -d "$root$inbox" ]; then
        run mkdir -p "$root$inbox"
        [ -n "$root" ] || run chown signage:signage "$inbox"
    fi
fi

# 4b. Joining the hub: the player's user makes its key (0600 in its 0700 folder) and asks the hub to take the board;
# the config gains the [report] and [feed] it prints. Once: a config with either is the technician's to edit.
if [ -n "$hub" ]; then
    signage_join="$prefix/.venv/bin/signage join --hub $hub --config $config --print-config"
    if [ -n "$root" ]; then
        say "--root: not joining $hub here (an image's key would be every board's); on the board run:"
        say "  runuser -u signage -- $signage_join"
    elif [ -f "$config" ] && grep -Eq '^[[:space:]]*\[report\]' "$config" && grep -Eq '^[[:space:]]*\[feed\]' "$config"; then
        say "kept: $config has [report] and [feed]; to join $hub instead, edit them or run: runuser -u signage -- ${signage_join% --print-config}"
    elif [ "$dry_run" = 1 ]; then
        echo "would run: runuser -u signage -- $signage_join (and add the [report] and [feed] it prints to $config)"
    elif runuser -u signage -- "$prefix/.venv/bin/signage" join --hub "$hub" --config "$config" --print-config >"$tmp/join.toml"; then
        if [ -s "$tmp/join.toml" ]; then
            { cat "$config"; echo; cat "$tmp/join.toml"; } >"$tmp/board-joined.toml"
            install_file "$tmp/board-joined.toml" "$config" 0644
        fi
    else
        say "joining $hub failed (above); the board plays without it. Once the hub answers, run again: $0 --hub $hub"
    fi
fi

# 4c. The share the clerk's guide promises, \\<this PC>\bangtin: its section in a file of its own, included once from
# smb.conf; the office's bangtin user (no login, no home) with a password made here and printed this once only.
if [ "$share" = 1 ]; then
    share_conf "$share_path" >"$tmp/bangtin.conf"
    share_changed=1  # smbd reloads only when its config or users change
    if [ -f "$root/etc/samba/signage-bangtin.conf" ] && cmp -s "$tmp/bangtin.conf" "$root/etc/samba/signage-bangtin.conf"; then share_changed=0; fi
    install_file "$tmp/bangtin.conf" /etc/samba/signage-bangtin.conf 0644
    if [ ! -f "$root/etc/samba/smb.conf" ]; then
        say "no /etc/samba/smb.conf (Samba is not installed here): the share is not included yet; run again once it is"
    elif grep -qxF "$share_include" "$root/etc/samba/smb.conf"; then
        say "unchanged: /etc/samba/smb.conf shares $share_path as bangtin"
    else
        changed=1 share_changed=1
        if [ "$dry_run" = 1 ]; then
            echo "would add to /etc/samba/smb.conf: $share_include"
        else
            printf '\n%s\n' "$share_include" >>"$root/etc/samba/smb.conf"
            say "shared: $share_path as bangtin"
        fi
    fi
    if [ -n "$root" ]; then
        say "--root: no Samba user made here; on the board run install.sh again to make the user bangtin"
    elif pdbedit -u bangtin >/dev/null 2>&1; then
        say "unchanged: Samba user bangtin (to set a new password: smbpasswd bangtin)"
    elif [ "$dry_run" = 1 ]; then
        echo "would run: useradd bangtin; smbpasswd -a bangtin (a password made here, printed once)"
    else
        changed=1 share_changed=1
        id bangtin >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin bangtin
        password=$(tr -dc 'a-km-zA-HJ-NP-Z2-9' </dev/urandom | head -c 12)
        printf '%s\n%s\n' "$password" "$password" | smbpasswd -s -a bangtin >/dev/null
        say "Samba user bangtin made. Its password, shown this once only (write it down for the office): $password"
    fi
    if systemd_running && [ "$share_changed" = 1 ]; then run systemctl reload-or-restart smbd; fi
else
    say "no share set up (--no-share, or no drop folder)"
fi

# 5. Units, the journald drop-in (logs in RAM, capped) and the USB rule.
for unit in $units; do install_file "$here/$unit" "$unitdir/$unit" 0644; done
install_file "$here/journald-signage.conf" /etc/systemd/journald.conf.d/signage.conf 0644
install_file "$here/99-signage-usb.rules" /etc/udev/rules.d/99-signage-usb.rules 0644

# 6. Enable: only where systemd runs (not in a chroot, a container without systemd, or under --root).
if systemd_running; then
    if [ "$changed" = 1 ]; then
        run systemctl daemon-reload
        run systemctl restart systemd-journald
        run udevadm control --reload || true
    fi
    for unit in signage-x.service signage.service; do
        if [ "$(systemctl is-enabled "$unit" 2>/dev/null || true)" = enabled ]; then
            say "unchanged: $unit enabled"
        else
            changed=1
            run systemctl enable "$unit"
        fi
    done
    say "start now with: systemctl start signage.service (or reboot)"
else
    say "systemd is not running here (chroot, container or --root): units installed, not enabled;"
    say "on the board run: systemctl enable signage-x.service signage.service"
fi

if [ "$changed" = 0 ]; then say "nothing to do: already installed"; fi
