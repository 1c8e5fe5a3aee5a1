// What the browser checks share: a headless chromium page that may load only file: and data:
// URLs (anything else is blocked and recorded, so a report that reaches for the network fails
// its check), and a reader for the PNG screenshots it takes, so a check can look at the pixels
// a reader would see. Plain Node: no PNG library is in the pinned test dependencies.
'use strict';

const zlib = require('zlib');

// A PNG as {width, height, pixel(x, y) -> [r, g, b]}: 8-bit RGB or RGBA, not interlaced
// (what chromium writes for screenshots).
function decodePng(buffer) {
    const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    if (!buffer.subarray(0, 8).equals(signature)) throw new Error('the screenshot is not a PNG');
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
    if (!header) throw new Error('the screenshot PNG has no IHDR');
    const channels = { 2: 3, 6: 4 }[header.color];
    if (header.depth !== 8 || !channels || header.interlace !== 0) {
        throw new Error(`unexpected PNG layout: depth ${header.depth}, colour type ${header.color}, interlace ${header.interlace}`);
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
                default: throw new Error(`PNG row ${y} has unknown filter ${filter}`);
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

// Launches chromium headless and opens an offline page at `viewport`. `requests` and `blocked`
// collect every URL asked for and every one refused; `errors` what the page raised.
async function openOffline(launcher, chromium, viewport) {
    const browser = await launcher.launch({
        executablePath: chromium,
        headless: true,
        // As root (CI containers) chromium refuses to start with its sandbox.
        args: ['--no-sandbox'],
    });
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const requests = [];
    const blocked = [];
    const errors = [];
    await page.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
        blocked.push(url);
        return route.abort();
    });
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => errors.push(String(error)));
    return { browser, page, requests, blocked, errors };
}

module.exports = { decodePng, openOffline };
