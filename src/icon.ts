import { LabIcon } from '@jupyterlab/ui-components';

/**
 * pexlab's one icon (panel tab, notebook toolbar, palette, settings): a spark rising out of
 * a package box, i.e. "this environment, packaged for Spark". The box takes the theme's
 * icon colour (jp-icon3) and the spark its warm accent (jp-icon-warn0), so both follow the
 * light, dark and high-contrast themes.
 */
export const PEXLAB_ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3.5 13.6l8 3.6v6.3l-8-3.6z"/>
    <path d="M20.5 13.6l-8 3.6v6.3l8-3.6z" fill-opacity="0.7"/>
    <path d="M12 10.2l8 3.4-8 3.5-8-3.5z" fill-opacity="0.4"/>
  </g>
  <g class="jp-icon-warn0" fill="#f57c00">
    <path d="M12 0.6l1.5 3.9 3.9 1.5-3.9 1.5L12 11.4l-1.5-3.9L6.6 6l3.9-1.5z"/>
    <path d="M19.2 1.2l0.6 1.5 1.5 0.6-1.5 0.6-0.6 1.5-0.6-1.5-1.5-0.6 1.5-0.6z"/>
  </g>
</svg>`;

export const sparkIcon = new LabIcon({
  name: 'pexlab:spark',
  svgstr: PEXLAB_ICON_SVG
});
