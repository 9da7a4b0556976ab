// bin/tvphone as an installed package runs it: the JavaScript that `npm run build` compiled into dist/, no type
// stripping (bin/tvphone itself picks src/ in a checkout). Plain JavaScript, so no Node strips this file either.
const { main } = await import('../../dist/cli/main.js');
process.exitCode = await main(process.argv);
