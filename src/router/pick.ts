// The pick moved to the dtab engine (src/dtab/route.ts), beside the rules the admin's delegation
// explanation shares with it; this re-export keeps router.ts's import working until it imports
// `pickLeaf` from '../dtab/route.js' itself.
export { pickLeaf } from '../dtab/route.js';
