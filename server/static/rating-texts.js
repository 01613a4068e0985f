/* The citizen's rating (status page and counter rating screens): its texts in az, ru and en. */
"use strict";
window.NOVBE_RATING_TEXTS = {
  az: {
    question: "Xidmətdən razı qaldınızmı?", scores: ["Çox pis", "Pis", "Orta", "Yaxşı", "Əla"],
    why: "Nə düzgün olmadı?", comment: "Əlavə etmək istədiyiniz (istəyə görə)", send: "Göndər", skip: "Keç",
    thanks: "Təşəkkür edirik! Qiymətiniz qeydə alındı.", already: "Bu ziyarət artıq qiymətləndirilib.",
    closed: "Bu ziyarəti artıq qiymətləndirmək mümkün deyil.", failed: "Göndərilmədi — yenidən cəhd edin.",
    anonymous: "Qiymət anonimdir: adınız qeyd olunmur.", ticket: "Bilet {number}", counter: "Masa {n}",
    idle: "Xidmət başa çatanda burada onu qiymətləndirə bilərsiniz.", offline: "Bağlantı yoxdur",
    pick: "Qiymət seçin", no_token: "Bu ekranın ünvanında masa nömrəsi və cihaz açarı olmalıdır."
  },
  ru: {
    question: "Вы довольны обслуживанием?", scores: ["Очень плохо", "Плохо", "Нормально", "Хорошо", "Отлично"],
    why: "Что пошло не так?", comment: "Комментарий (необязательно)", send: "Отправить", skip: "Пропустить",
    thanks: "Спасибо! Ваша оценка учтена.", already: "Этот визит уже оценён.",
    closed: "Этот визит уже нельзя оценить.", failed: "Не отправлено — попробуйте ещё раз.",
    anonymous: "Оценка анонимна: ваше имя не записывается.", ticket: "Талон {number}", counter: "Окно {n}",
    idle: "Когда обслуживание закончится, вы сможете оценить его здесь.", offline: "Нет связи",
    pick: "Выберите оценку", no_token: "В адресе этого экрана должны быть номер окна и ключ устройства."
  },
  en: {
    question: "How satisfied are you with the service?", scores: ["Very bad", "Bad", "Fair", "Good", "Excellent"],
    why: "What went wrong?", comment: "Anything to add (optional)", send: "Send", skip: "Skip",
    thanks: "Thank you! Your rating has been recorded.", already: "This visit has already been rated.",
    closed: "This visit can no longer be rated.", failed: "Not sent — please try again.",
    anonymous: "Your rating is anonymous: your name is not recorded.", ticket: "Ticket {number}", counter: "Counter {n}",
    idle: "When your service ends, you can rate it here.", offline: "Offline",
    pick: "Choose a rating", no_token: "This screen's address needs a counter number and a device token."
  }
};
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
