// Small lookups shared by the screens, cached for the tab: the shop's time zone and its channels.
// There is no "list channels" route: the channels are the ones the statistics have seen in the last
// 90 days (GET /admin/stats?by=channel), which is every channel that took an order.
import { addDays, setZone, shopDate } from "./fmt.js";

let channelsPromise = null;

export function channels(api) {
  if (!channelsPromise) {
    const today = shopDate();
    channelsPromise = api.get("/admin/stats", { from: addDays(today, -89), to: today, by: "channel" })
      .then((data) => {
        if (data.timezone) setZone(data.timezone);
        return (data.groups || []).map((g) => g.key).filter(Boolean).sort();
      })
      .catch((error) => { channelsPromise = null; throw error; });
  }
  return channelsPromise;
}

export function forget() { channelsPromise = null; }
