// Channel display names from the channels file ("name"), learnt from every API answer that carries
// them (`channel_names`: the order list, order detail, anomalies, reports). A channel without one
// is shown by its id as is, never an id split at a hyphen.
const CHANNEL_NAMES = new Map();

export function rememberChannelNames(names) {
  Object.entries(names || {}).forEach(([id, name]) => CHANNEL_NAMES.set(id, name));
}

export function knownChannelName(id) { return CHANNEL_NAMES.get(id) || null; }
