/* The "not allowed" page of the supervisor view (an operator's session): who is logged in, and logout. */
"use strict";

Novbe.chrome();
Novbe.me().then(Novbe.showUser);
document.getElementById("logout").addEventListener("click", async () => { await Novbe.logout(); location.reload(); });
