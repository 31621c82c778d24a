import { LabIcon } from '@jupyterlab/ui-components';

// A spark over a box (the PEX); drawn with JupyterLab's icon colour classes so it follows
// the light and dark themes.
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 1.5l1.9 4.6 4.6 1.9-4.6 1.9L12 14.5l-1.9-4.6L5.5 8l4.6-1.9z"/>
    <path d="M3 15h18v7.5H3zm2 2v3.5h14V17z"/>
  </g>
</svg>`;

export const sparkIcon = new LabIcon({ name: 'pexlab:spark', svgstr });
