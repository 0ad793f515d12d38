#!/bin/sh
# Upload throughput and service memory of PUT /image/v2/images/{id}/file against a fresh demo service.
set -e
cd "$(dirname "$0")/.."
D=$(mktemp -d)
PORT=$(.venv/bin/python -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
.venv/bin/python -m ecslite serve --demo --data-dir $D/data --port $PORT > $D/service.log 2>&1 &
PID=$!
for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:$PORT/v3 && break; sleep 0.3; done
qemu-img create -q -f qcow2 $D/x.qcow2 1G
head -c 4096 $D/x.qcow2 > $D/big.qcow2
head -c $((512*1024*1024)) /dev/urandom >> $D/big.qcow2
DEMO=$D/data/demo.json
TOKEN=$(curl -si -X POST http://127.0.0.1:$PORT/v3/auth/tokens -H 'Content-Type: application/json' -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$(jq -r .user_name $DEMO)\",\"password\":\"$(jq -r .password $DEMO)\",\"domain\":{\"name\":\"$(jq -r .domain_name $DEMO)\"}}}},\"scope\":{\"project\":{\"name\":\"$(jq -r .project_name $DEMO)\"}}}}" | awk 'tolower($1)=="x-subject-token:" {print $2}' | tr -d '\r')
for n in 1 2 3; do
  ID=$(curl -s -X POST http://127.0.0.1:$PORT/image/v2/images -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' -d '{"name":"bench","disk_format":"qcow2","container_format":"bare"}' | jq -r .id)
  curl -s -o /dev/null -w "upload %{size_upload} bytes in %{time_total} s: %{speed_upload} B/s http %{http_code}\n" -X PUT http://127.0.0.1:$PORT/image/v2/images/$ID/file -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/octet-stream' --data-binary @$D/big.qcow2
  ps -o rss= -p $PID | awk '{print "service RSS after upload: " $1/1024 " MiB"}'
  curl -s -o /dev/null -X DELETE http://127.0.0.1:$PORT/image/v2/images/$ID -H "X-Auth-Token: $TOKEN"
done
uptime
kill $PID; wait $PID 2>/dev/null || true
rm -rf $D
