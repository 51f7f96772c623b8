-- The seed example: an order saga, declared without code.
--   ReserveInventory -> ChargePayment -> CreateShipment -> SendConfirmation
--   a failure at CreateShipment (after its retries) runs
--   RefundPayment, then ReleaseInventory.
CREATE EXTENSION IF NOT EXISTS workflow;
SELECT workflow.register_saga('order', '[
	{"activity": "ReserveInventory", "queue": "inventory",     "compensation": "ReleaseInventory"},
	{"activity": "ChargePayment",    "queue": "payments",      "compensation": "RefundPayment"},
	{"activity": "CreateShipment",   "queue": "shipping",
	 "options": {"retry": {"maximum_attempts": 3, "initial_interval": "1 second"}}},
	{"activity": "SendConfirmation", "queue": "notifications"}
]');
