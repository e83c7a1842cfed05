# Sourced by the walkthroughs (`source docs/walkthroughs/session.sh`), from the repository root
# with `make run` up: the gateway's address and a token of the operator client that `make run`
# registered (its secret is in data/clients.json), with every scope that client has.
GW=${GW:-http://127.0.0.1:8000}
SECRET=$(jq -r '."plantbridge-operator"' data/clients.json)
TOKEN=$(curl -sf -u "plantbridge-operator:$SECRET" -d grant_type=client_credentials "$GW/oauth2/token" \
  | jq -r .access_token)
AUTH="Authorization: Bearer $TOKEN"
JSON='Content-Type: application/json'
