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
const zlib = require('zlib');

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

// A PNG as {width, height, pixel(x, y) -> [r, g, b]}: 8-bit RGB or RGBA, not interlaced
// (what chromium writes for screenshots).
function decodePng(buffer) {
    const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    if (!buffer.subarray(0, 8).equals(signature)) fail('the screenshot is not a PNG');
    let offset = 8;
    let header = null;
    const data = [];
    while (offset < buffer.length) {
        const length = buffer.readUInt32BE(offset);
        const type = buffer.toString('ascii', offset + 4, offset + 8);
        const body = buffer.subarray(offset + 8, offset + 8 + length);
        if (type === 'IHDR') {
            header = {
                width: body.readUInt32BE(0),
                height: body.readUInt32BE(4),
                depth: body[8],
                color: body[9],
                interlace: body[12],
            };
        } else if (type === 'IDAT') {
            data.push(body);
        } else if (type === 'IEND') {
            break;
        }
        offset += 12 + length;
    }
    if (!header) fail('the screenshot PNG has no IHDR');
    const channels = { 2: 3, 6: 4 }[header.color];
    if (header.depth !== 8 || !channels || header.interlace !== 0) {
        fail(`unexpected PNG layout: depth ${header.depth}, colour type ${header.color}, interlace ${header.interlace}`);
    }
    const raw = zlib.inflateSync(Buffer.concat(data));
    const stride = header.width * channels;
    const pixels = Buffer.alloc(stride * header.height);
    for (let y = 0; y < header.height; y++) {
        const filter = raw[y * (stride + 1)];
        const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
        for (let x = 0; x < stride; x++) {
            const a = x >= channels ? pixels[y * stride + x - channels] : 0;
            const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
            const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
            let predictor;
            switch (filter) {
                case 0: predictor = 0; break;
                case 1: predictor = a; break;
                case 2: predictor = b; break;
                case 3: predictor = (a + b) >> 1; break;
                case 4: {
                    const p = a + b - c;
                    const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
                    predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                    break;
                }
                default: fail(`PNG row ${y} has unknown filter ${filter}`);
            }
            pixels[y * stride + x] = (line[x] + predictor) & 0xff;
        }
    }
    return {
        width: header.width,
        height: header.height,
        pixel(x, y) {
            const i = y * stride + x * channels;
            return [pixels[i], pixels[i + 1], pixels[i + 2]];
        },
    };
}

(async () => {
    const browser = await launcher.launch({
        executablePath: chromium,
        headless: true,
        // As root (CI containers) chromium refuses to start with its sandbox.
        args: ['--no-sandbox'],
    });
    try {
        const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
        const page = await context.newPage();
        const requests = [];
        const blocked = [];
        await page.route('**/*', (route) => {
            const url = route.request().url();
            if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
            blocked.push(url);
            return route.abort();
        });
        page.on('request', (request) => requests.push(request.url()));
        const errors = [];
        page.on('pageerror', (error) => errors.push(String(error)));

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
