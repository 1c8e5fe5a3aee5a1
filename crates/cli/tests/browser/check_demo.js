// Opens `pushtrace demo`'s index.html in a real headless chromium and checks what a reader
// sees: it renders, it asks nothing of the network (only file: and data: URLs are allowed,
// anything else is blocked and reported), the stories table (#stories) is visible inside the
// first viewport, and the screenshot is not blank: inside that table there are pixels of the
// failure-row colour and dark text pixels.
//
// usage: node check_demo.js INDEX.html SCREENSHOT.png CHROMIUM NODE_MODULES_DIR
// Prints one JSON line with what it found (the page's links included); exits 1 with a message
// on the first failed check.
'use strict';

const path = require('path');
const { decodePng, openOffline } = require('./offline_page.js');

const [index, screenshot, chromium, modules] = process.argv.slice(2);
if (!index || !screenshot || !chromium || !modules) {
    console.error('usage: node check_demo.js INDEX.html SCREENSHOT.png CHROMIUM NODE_MODULES_DIR');
    process.exit(2);
}
const { chromium: launcher } = require(path.join(modules, 'playwright-core'));

const VIEWPORT = { width: 1280, height: 800 };
// tr.fail in the index's CSS.
const FAILURE_ROW = [0xfd, 0xe2, 0xe1];

function fail(message) {
    console.error(`check_demo: ${message}`);
    process.exit(1);
}

(async () => {
    const { browser, page, requests, blocked, errors } = await openOffline(launcher, chromium, VIEWPORT);
    try {
        await page.goto('file://' + path.resolve(index), { waitUntil: 'load' });
        await page.waitForLoadState('networkidle');
        const external = requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'));
        if (external.length || blocked.length) {
            fail(`the page asked for ${[...new Set([...external, ...blocked])].join(', ')}`);
        }
        if (errors.length) fail(`the page raised: ${errors.join('; ')}`);

        const title = await page.title();
        const table = page.locator('table#stories');
        if ((await table.count()) !== 1) fail('no table#stories in the page');
        if (!(await table.isVisible())) fail('table#stories is not visible');
        const box = await table.boundingBox();
        if (!box || box.y < 0 || box.y + box.height > VIEWPORT.height || box.x + box.width > VIEWPORT.width) {
            fail(`table#stories is not inside the first ${VIEWPORT.width}x${VIEWPORT.height} viewport: ${JSON.stringify(box)}`);
        }
        const storyRows = await page.locator('table#stories tr.fail').count();
        const links = await page.locator('a').evaluateAll((as) => as.map((a) => a.href));

        const png = await page.screenshot({ path: screenshot });
        const image = decodePng(png);
        let rowColour = 0;
        let dark = 0;
        for (let y = Math.floor(box.y); y < Math.min(image.height, Math.ceil(box.y + box.height)); y++) {
            for (let x = Math.floor(box.x); x < Math.min(image.width, Math.ceil(box.x + box.width)); x++) {
                const [r, g, b] = image.pixel(x, y);
                if (Math.abs(r - FAILURE_ROW[0]) <= 2 && Math.abs(g - FAILURE_ROW[1]) <= 2 && Math.abs(b - FAILURE_ROW[2]) <= 2) rowColour++;
                if (r + g + b < 240) dark++;
            }
        }
        if (rowColour < 500) fail(`the screenshot shows only ${rowColour} failure-row pixels inside table#stories`);
        if (dark < 200) fail(`the screenshot shows only ${dark} dark (text) pixels inside table#stories: is it blank?`);

        console.log(JSON.stringify({
            title, requests, box, storyRows, links,
            screenshot: { width: image.width, height: image.height, rowColourPixels: rowColour, darkPixels: dark },
        }));
    } finally {
        await browser.close();
    }
})().catch((error) => fail(error && error.stack ? error.stack : String(error)));
