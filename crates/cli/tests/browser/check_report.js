// Opens pushtrace's HTML report in a real headless chromium and checks what a reader sees:
// it renders, it asks nothing of the network (every request is recorded: only file: and data:
// URLs are allowed, anything else is blocked and reported), the failure table (#failures) is
// visible inside the first viewport, and a screenshot shows it: inside the table's box there are
// pixels of the failure-row colour and dark text pixels. The first timeline's legend is scrolled
// into view and screenshotted: each of its swatches must show its own colour in the pixels.
//
// usage: node check_report.js REPORT.html SCREENSHOT.png CHROMIUM NODE_MODULES_DIR
// Prints one JSON line with what it found; exits 1 with a message on the first failed check.
'use strict';

const fs = require('fs');
const path = require('path');
const { decodePng, openOffline } = require('./offline_page.js');

const [report, screenshot, chromium, modules] = process.argv.slice(2);
if (!report || !screenshot || !chromium || !modules) {
    console.error('usage: node check_report.js REPORT.html SCREENSHOT.png CHROMIUM NODE_MODULES_DIR');
    process.exit(2);
}
const { chromium: launcher } = require(path.join(modules, 'playwright-core'));

const VIEWPORT = { width: 1280, height: 800 };
// --fail in the report's CSS: the background of a failure row.
const FAILURE_ROW = [0xfd, 0xe2, 0xe1];

function fail(message) {
    console.error(`check_report: ${message}`);
    process.exit(1);
}

(async () => {
    const { browser, page, requests, blocked, errors } = await openOffline(launcher, chromium, VIEWPORT);
    try {
        await page.goto('file://' + path.resolve(report), { waitUntil: 'load' });
        await page.waitForLoadState('networkidle');

        const external = requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'));
        if (external.length || blocked.length) {
            fail(`the report asked for ${[...new Set([...external, ...blocked])].join(', ')}`);
        }
        if (errors.length) fail(`the page raised: ${errors.join('; ')}`);

        const title = await page.title();
        const table = page.locator('table#failures');
        if ((await table.count()) !== 1) fail('no table#failures in the report');
        if (!(await table.isVisible())) fail('table#failures is not visible');
        const box = await table.boundingBox();
        if (!box || box.y < 0 || box.y + box.height > VIEWPORT.height || box.x + box.width > VIEWPORT.width) {
            fail(`table#failures is not inside the first ${VIEWPORT.width}x${VIEWPORT.height} viewport: ${JSON.stringify(box)}`);
        }
        const failureRows = await page.locator('table#failures tr.failure').count();
        const rowBackground = failureRows
            ? await page.locator('table#failures tr.failure td').first().evaluate((td) => getComputedStyle(td).backgroundColor)
            : null;
        const failureSections = await page.locator('section.failure').count();
        const timelines = await page.locator('section.failure svg.timeline').count();
        const rowTexts = await page.locator('table#failures tbody tr').allInnerTexts();

        const png = await page.screenshot({ path: screenshot });
        const image = decodePng(png);
        let rowColour = 0;
        let dark = 0;
        const colours = new Set();
        for (let y = Math.floor(box.y); y < Math.min(image.height, Math.ceil(box.y + box.height)); y++) {
            for (let x = Math.floor(box.x); x < Math.min(image.width, Math.ceil(box.x + box.width)); x++) {
                const [r, g, b] = image.pixel(x, y);
                colours.add((r << 16) | (g << 8) | b);
                if (Math.abs(r - FAILURE_ROW[0]) <= 2 && Math.abs(g - FAILURE_ROW[1]) <= 2 && Math.abs(b - FAILURE_ROW[2]) <= 2) rowColour++;
                if (r + g + b < 240) dark++;
            }
        }
        if (failureRows && rowColour < 500) fail(`the screenshot shows only ${rowColour} failure-row pixels inside table#failures`);
        if (dark < 200) fail(`the screenshot shows only ${dark} dark (text) pixels inside table#failures: is it blank?`);

        // The legend of the first timeline, as a reader scrolls to it.
        const legendItems = await page.locator('section.failure ul.legend').first().locator('li').allInnerTexts();
        let legend = null;
        if (timelines) {
            const element = page.locator('section.failure ul.legend').first();
            await element.scrollIntoViewIfNeeded();
            if (!(await element.isVisible())) fail('the timeline legend is not visible');
            const swatches = await element.locator('.swatch:not(.outside)').evaluateAll((spans) =>
                spans.map((span) => {
                    const rgb = getComputedStyle(span).backgroundColor.match(/\d+/g).map(Number);
                    return { label: span.parentElement.innerText, rgb };
                }));
            const shot = decodePng(await element.screenshot({ path: screenshot.replace(/\.png$/, '-legend.png') }));
            const shown = swatches.map(({ label, rgb }) => {
                let pixels = 0;
                for (let y = 0; y < shot.height; y++) {
                    for (let x = 0; x < shot.width; x++) {
                        const [r, g, b] = shot.pixel(x, y);
                        if (Math.abs(r - rgb[0]) <= 2 && Math.abs(g - rgb[1]) <= 2 && Math.abs(b - rgb[2]) <= 2) pixels++;
                    }
                }
                return { label, pixels };
            });
            const missing = shown.filter((s) => s.pixels < 100);
            if (missing.length) fail(`legend swatches not drawn: ${JSON.stringify(missing)}`);
            const distinct = new Set(swatches.map((s) => s.rgb.join(','))).size;
            if (distinct !== swatches.length) fail(`legend swatches share colours: ${JSON.stringify(swatches)}`);
            legend = { swatches: shown, distinctColours: distinct };
        }

        console.log(JSON.stringify({
            title, requests, box, failureRows, rowBackground, failureSections, timelines, rowTexts, legendItems, legend,
            screenshot: { width: image.width, height: image.height, rowColourPixels: rowColour, darkPixels: dark, colours: colours.size },
        }));
    } finally {
        await browser.close();
    }
})().catch((error) => fail(error && error.stack ? error.stack : String(error)));
