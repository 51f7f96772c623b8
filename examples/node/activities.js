// Activities for the example worker: Greet and Shout (the README's greet
// workflow) and the six steps of the seed order saga (examples/order).
import { NonRetryableError } from 'pgworkflow';

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const greet = {
  async Greet(input, ctx) {
    if (!('name' in input)) throw new NonRetryableError('input has no name');
    if (input.flaky && ctx.attempt === 1) // a transient outage
      throw new Error('greeting service unavailable, try again');
    return { greeting: `Hello, ${input.name}!` };
  },
  async Shout(input) {
    return { shout: input.greeting.toUpperCase() };
  },
};

export const order = {
  async ReserveInventory(o) { await pause(200); return { reservation: `R-${o.order_id}` }; },
  async ChargePayment(o) { await pause(200); return { charge: `CH-${o.order_id}`, amount: 42.5 }; },
  async CreateShipment(o, ctx) {
    await pause(200);
    if (o.carrier_down) throw new Error(`carrier API unavailable (attempt ${ctx.attempt})`);
    return { tracking: `TRK-${o.order_id}` };
  },
  async SendConfirmation() { await pause(200); return { emailed: true }; },
  async RefundPayment(r) { return { refunded: r.charge }; },
  async ReleaseInventory(r) { return { released: r.reservation }; },
};
