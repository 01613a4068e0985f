/* The citizen's rating (status page and counter rating screens): the five faces. Its texts come from
   the catalogues (/i18n/rating.js). */
"use strict";
/* Five faces, from very bad to excellent, drawn as SVG (no emoji font needed). */
window.NOVBE_FACE = function (score) {
  var mouths = ["M30 70 Q50 52 70 70", "M32 68 Q50 60 68 68", "M32 64 L68 64", "M32 62 Q50 72 68 62", "M28 58 Q50 82 72 58"];
  var ns = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 100 100");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "face f" + score);
  var c = document.createElementNS(ns, "circle");
  c.setAttribute("cx", "50"); c.setAttribute("cy", "50"); c.setAttribute("r", "46"); c.setAttribute("class", "skin");
  svg.appendChild(c);
  [35, 65].forEach(function (x) {
    var e = document.createElementNS(ns, "circle");
    e.setAttribute("cx", String(x)); e.setAttribute("cy", "40"); e.setAttribute("r", "6"); e.setAttribute("class", "eye");
    svg.appendChild(e);
  });
  var m = document.createElementNS(ns, "path");
  m.setAttribute("d", mouths[score - 1]); m.setAttribute("class", "mouth");
  svg.appendChild(m);
  return svg;
};
