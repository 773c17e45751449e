// The portal's few scripts. Every page works without them; they only add what people expect.
(() => {
  // Header menus are <details> disclosures: close them on a click elsewhere, the innermost on Escape.
  const openMenus = () => [...document.querySelectorAll(".topbar details[open]")];
  document.addEventListener("click", (event) => {
    for (const menu of openMenus()) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    }
  });
  document.addEventListener("keydown", (event) => {
    const menu = openMenus().pop();
    if (event.key !== "Escape" || !menu) return;
    menu.removeAttribute("open");
    menu.querySelector(":scope > summary").focus();
  });

  // The approval queue's "Select all on this page" ticks the rows' boxes too (without the script the server
  // reads it as every request of the page the admin may decide on); unticking a row unticks it.
  document.addEventListener("change", (event) => {
    const box = event.target;
    const selectAll = box.form?.querySelector("[data-select-all]");
    if (!selectAll || box.type !== "checkbox") return;
    if (box === selectAll) {
      for (const row of box.form.elements) if (row.name === "ids") row.checked = box.checked;
    } else if (box.name === "ids" && !box.checked) {
      selectAll.checked = false;
    }
  });

  // On a narrow screen a wide table scrolls inside its own box (portal.css): such a table takes keyboard
  // focus so it can be scrolled without a mouse (it keeps its table role; a caption or the section's
  // heading names it).
  const headingOf = (table) => table.closest("section")?.querySelector("h2, h3")?.textContent.trim();
  const markScrollingTables = () => {
    for (const table of document.querySelectorAll("main table")) {
      const scrolls = table.scrollWidth > table.clientWidth + 1;
      if (scrolls && !table.hasAttribute("tabindex")) {
        table.setAttribute("tabindex", "0");
        table.dataset.scrollFocus = "";
        if (!table.caption && headingOf(table)) table.setAttribute("aria-label", headingOf(table));
      } else if (!scrolls && "scrollFocus" in table.dataset) {
        for (const name of ["tabindex", "aria-label", "data-scroll-focus"]) table.removeAttribute(name);
      }
    }
  };
  document.addEventListener("DOMContentLoaded", markScrollingTables);
  document.addEventListener("htmx:afterSettle", markScrollingTables);
  window.addEventListener("resize", markScrollingTables);
})();
