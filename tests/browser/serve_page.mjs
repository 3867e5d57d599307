// Drives relage serve's page in headless Chromium: chooses a photo, waits for the result, and
// checks what is drawn (the face list, the box drawn on the photo canvas, the distribution).
//   node serve_page.mjs URL IMAGE SCREENSHOT.png
import { chromium } from "playwright-core";

const [url, image, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const fail = async (msg) => {
  console.error(`FAIL: ${msg}`);
  await browser.close();
  process.exit(1);
};
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForFunction(() => !document.getElementById("model").textContent.startsWith("loading"));
  await page.setInputFiles("#file", image);
  await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 120000 });
  const state = await page.getAttribute("body", "data-state");
  if (state !== "done") await fail(`page says: ${await page.textContent("#status")}`);
  const faces = await page.$$eval("#faces li", (els) => els.map((e) => e.textContent));
  if (faces.length !== 1 || !/face 1: \d+\.\d years/.test(faces[0])) await fail(`faces: ${faces}`);
  // The selected face's box is stroked in #00e060 on the photo canvas, the distribution in #2a7.
  const counts = await page.evaluate(() => {
    const count = (id, rgb) => {
      const c = document.getElementById(id);
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4)
        if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2]) n++;
      return n;
    };
    return { box: count("photo", [0, 224, 96]), bars: count("dist", [34, 170, 119]) };
  });
  if (counts.box < 200) await fail(`no box drawn (${counts.box} box pixels)`);
  if (counts.bars < 200) await fail(`no distribution drawn (${counts.bars} bar pixels)`);
  const external = requests.filter((u) => !u.startsWith(url) && !u.startsWith("blob:") && !u.startsWith("data:"));
  if (external.length) await fail(`external requests: ${external}`);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`serve_page: ok (${faces[0]}; ${counts.box} box pixels; screenshot ${shot})`);
} catch (e) {
  await fail(e.message);
}
await browser.close();
