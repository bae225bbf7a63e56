() => {
  // For page.evaluate: the visible text that fails WCAG 2.1 contrast (4.5:1; 3:1 for large text) against
  // the backgrounds painted behind it, one line per element ("ratio <tag class> text"). Disabled controls
  // are exempt, as in WCAG. Backgrounds are those of the element and its ancestors, blended in order.
  const parse = (colour) => {
    const found = colour.match(/rgba?\(([^)]+)\)/);
    if (!found) return null;
    const parts = found[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
  };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const channel = (value) => {
    const v = value / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const backdrop = (element) => {
    const chain = [];
    for (let e = element; e; e = e.parentElement) chain.unshift(e);
    let background = [255, 255, 255, 1];
    for (const e of chain) {
      const colour = parse(getComputedStyle(e).backgroundColor);
      if (colour && colour[3] > 0) background = over(colour, background);
    }
    return background;
  };

  const low = [];
  const seen = new Set();
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const text = walk.currentNode.textContent.trim();
    const element = walk.currentNode.parentElement;
    if (!text || seen.has(element)) continue;
    seen.add(element);
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    if (box.width < 2 || box.height < 2 || style.visibility === "hidden" || element.closest(":disabled")) continue;
    const background = backdrop(element);
    const foreground = over(parse(style.color), background);
    const [a, b] = [luminance(foreground), luminance(background)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) {
      low.push(`${ratio.toFixed(2)}:1 <${element.tagName.toLowerCase()} class="${element.className}"> ${text.slice(0, 40)}`);
    }
  }
  return low;
}
