#!/bin/sh
# One handler for every activity of the order saga (run by workflow-worker).
# Input JSON arrives on stdin; ACTIVITY, ATTEMPT and WORKFLOW_ID are set.
# Prints the result as JSON; exit 75 asks for a retry.
input=$(cat)
order=$(printf '%s' "$input" | sed -n 's/.*"order_id": *"\([^"]*\)".*/\1/p')
sleep 0.2
case "$ACTIVITY" in
ReserveInventory) printf '{"reservation": "R-%s"}\n' "$order" ;;
ChargePayment)    printf '{"charge": "CH-%s", "amount": 42.50}\n' "$order" ;;
CreateShipment)
	case "$input" in
	*'"carrier_down": true'*)
		echo "carrier API unavailable (attempt $ATTEMPT)" >&2
		exit 75 ;;
	esac
	printf '{"tracking": "TRK-%s"}\n' "$order" ;;
SendConfirmation) printf '{"emailed": true}\n' ;;
RefundPayment)    printf '{"refunded": "%s"}\n' "$(printf '%s' "$input" | sed -n 's/.*"charge": *"\([^"]*\)".*/\1/p')" ;;
ReleaseInventory) printf '{"released": "%s"}\n' "$(printf '%s' "$input" | sed -n 's/.*"reservation": *"\([^"]*\)".*/\1/p')" ;;
*) echo "unknown activity $ACTIVITY" >&2; exit 65 ;;
esac
