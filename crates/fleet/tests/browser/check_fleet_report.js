// Opens pushtrace's fleet HTML report in a real headless chromium and checks what a reader
// sees: no script errors, no request beyond the file itself (every request is recorded; only
// file: and data: URLs are let through, anything else is blocked and reported), every chart's
// SVG laid out with a size, the change days' markers inside the daily chart's plot area, no two
// text labels of one chart overlapping, no horizontal scrolling at 1280 px, and a full-page
// screenshot that shows the charts' colours.
//
// usage: node check_fleet_report.js REPORT.html SCREENSHOT.png CHROMIUM NODE_MODULES_DIR
// Prints one JSON line with what it found; exits 1 with a message on the first failed check.
// playwright-core comes from crates/cli/tests/browser/setup.sh (shared with the diagnose report).
'use strict';

const path = require('path');
const zlib = require('zlib');

const [report, screenshot, chromium, modules] = process.argv.slice(2);
if (!report || !screenshot || !chromium || !modules) {
    console.error('usage: node check_fleet_report.js REPORT.html SCREENSHOT.png CHROMIUM NODE_MODULES_DIR');
    process.exit(2);
}
const { chromium: launcher } = require(path.join(modules, 'playwright-core'));

const VIEWPORT = { width: 1280, height: 900 };
// The report's series colours (Okabe–Ito): the cohort bars and the rate line.
const VERMILLION = [0xd5, 0x5e, 0x00];
const BLUE = [0x00, 0x72, 0xb2];

function fail(message) {
    console.error(`check_fleet_report: ${message}`);
    process.exit(1);
}

// A PNG as {width, height, pixel(x, y) -> [r, g, b]}: 8-bit RGB or RGBA, not interlaced (what
// chromium writes for screenshots).
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
            header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8], color: body[9], interlace: body[12] };
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

function near(pixel, colour) {
    return Math.abs(pixel[0] - colour[0]) <= 3 && Math.abs(pixel[1] - colour[1]) <= 3 && Math.abs(pixel[2] - colour[2]) <= 3;
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
        page.on('console', (message) => {
            if (message.type() === 'error' || message.type() === 'warning') errors.push(`console ${message.type()}: ${message.text()}`);
        });

        await page.goto('file://' + path.resolve(report), { waitUntil: 'load' });
        await page.waitForLoadState('networkidle');

        const external = requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'));
        if (external.length || blocked.length) {
            fail(`the report asked for ${[...new Set([...external, ...blocked])].join(', ')}`);
        }
        if (errors.length) fail(`the page reported: ${errors.join('; ')}`);

        const found = await page.evaluate(() => {
            const box = (e) => {
                const r = e.getBoundingClientRect();
                return { x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height };
            };
            const charts = [...document.querySelectorAll('svg.chart')].map((svg) => {
                const texts = [...svg.querySelectorAll('text')].map((t) => ({ text: t.textContent, box: box(t) }));
                const overlaps = [];
                // Half a pixel of slack: anti-aliased edges of neighbours may touch.
                for (let i = 0; i < texts.length; i++) {
                    for (let j = i + 1; j < texts.length; j++) {
                        const a = texts[i].box, b = texts[j].box;
                        const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
                        const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
                        if (w > 0.5 && h > 0.5) overlaps.push([texts[i].text, texts[j].text]);
                    }
                }
                const area = svg.querySelector('.plot-area');
                return {
                    id: svg.id,
                    box: box(svg),
                    texts: texts.length,
                    overlaps,
                    plotArea: area ? box(area) : null,
                    changes: [...svg.querySelectorAll('line.change:not(.key)')].map(box),
                };
            });
            const root = document.documentElement;
            return {
                title: document.title,
                charts,
                scripts: document.querySelectorAll('script').length,
                scrollWidth: root.scrollWidth,
                clientWidth: root.clientWidth,
                bodyText: document.body.innerText,
            };
        });

        if (found.scripts !== 0) fail(`the page has ${found.scripts} <script> elements`);
        for (const chart of found.charts) {
            if (!(chart.box.width > 0 && chart.box.height > 0)) fail(`chart ${chart.id} has no size: ${JSON.stringify(chart.box)}`);
            if (chart.overlaps.length) fail(`chart ${chart.id}: labels overlap: ${JSON.stringify(chart.overlaps)}`);
            if (chart.box.x < 0 || chart.box.x + chart.box.width > found.clientWidth + 0.5) {
                fail(`chart ${chart.id} sticks out of the page: ${JSON.stringify(chart.box)}`);
            }
        }
        const daily = found.charts.find((c) => c.id === 'chart-daily');
        if (!daily) fail('no svg#chart-daily');
        if (!daily.plotArea) fail('the daily chart has no .plot-area');
        for (const marker of daily.changes) {
            const a = daily.plotArea;
            const inside = marker.x >= a.x - 1 && marker.x + marker.width <= a.x + a.width + 1
                && marker.y >= a.y - 1 && marker.y + marker.height <= a.y + a.height + 1;
            if (!inside) fail(`a change marker ${JSON.stringify(marker)} is outside the plot area ${JSON.stringify(a)}`);
        }
        if (found.scrollWidth > found.clientWidth) {
            fail(`the page scrolls sideways at ${VIEWPORT.width} px: ${found.scrollWidth} > ${found.clientWidth}`);
        }

        const png = await page.screenshot({ path: screenshot, fullPage: true });
        const image = decodePng(png);
        let vermillion = 0;
        let blue = 0;
        const colours = new Set();
        for (let y = 0; y < image.height; y += 1) {
            for (let x = 0; x < image.width; x += 1) {
                const p = image.pixel(x, y);
                colours.add((p[0] << 16) | (p[1] << 8) | p[2]);
                if (near(p, VERMILLION)) vermillion++;
                if (near(p, BLUE)) blue++;
            }
        }
        if (vermillion < 500 || blue < 500) {
            fail(`the screenshot shows ${vermillion} vermillion and ${blue} blue pixels: are the charts drawn?`);
        }

        delete found.bodyText;
        console.log(JSON.stringify({
            ...found,
            requests,
            screenshot: { bytes: png.length, width: image.width, height: image.height, vermillion, blue, colours: colours.size },
        }));
        // The text the page shows, for the test to look for escaped user data.
    } finally {
        await browser.close();
    }
})().catch((error) => fail(error && error.stack ? error.stack : String(error)));
