import { loadCapabilities } from "../../catalog/capabilities";
import { router, teamProcedure } from "../init";

export const capabilitiesRouter = router({
  list: teamProcedure.query(() => loadCapabilities()),
});
